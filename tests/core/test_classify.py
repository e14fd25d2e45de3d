"""The classifier reads Gemini's error bodies the way the key pool needs them."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hpn_router.core.classify import (
    CAPACITY_COOLDOWN_SECONDS,
    PACIFIC,
    Verdict,
    classify_anthropic_response,
    classify_mistral_response,
    classify_response,
    classify_transport_error,
    next_pacific_midnight,
)
from mistral_emulator import errors as mistral_errors

HELP = {"@type": "type.googleapis.com/google.rpc.Help", "links": []}


def quota(quota_id: str) -> dict:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaMetric": "m", "quotaId": quota_id, "quotaDimensions": {"model": "gemini-2.5-flash"}}],
    }


def retry(delay: str) -> dict:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def body(code: int, status: str, message: str, details: list | None = None) -> bytes:
    error = {"code": code, "status": status, "message": message}
    if details is not None:
        error["details"] = details
    return json.dumps({"error": error}).encode()


@pytest.mark.parametrize(
    "details",
    [
        [HELP, quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"), retry("37s")],
        [retry("37s"), HELP, quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")],  # order varies
    ],
)
def test_per_minute_429_uses_retry_info(details):
    outcome = classify_response(429, body(429, "RESOURCE_EXHAUSTED", "quota. Please retry in 12.5s.", details))
    assert outcome.verdict is Verdict.RATE_LIMITED
    assert outcome.retry_after == 37.0
    assert outcome.retry_elsewhere


def test_429_falls_back_to_message_delay():
    outcome = classify_response(429, body(429, "RESOURCE_EXHAUSTED", "You exceeded... Please retry in 45.837906927s."))
    assert outcome.retry_after == pytest.approx(45.837906927)


def test_bare_429_has_no_delay():
    outcome = classify_response(429, body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."))
    assert outcome.verdict is Verdict.RATE_LIMITED
    assert outcome.retry_after is None


def test_per_day_429_ignores_short_retry_delay():
    details = [quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier"), retry("5s")]
    outcome = classify_response(429, body(429, "RESOURCE_EXHAUSTED", "Please retry in 5s.", details))
    assert outcome.verdict is Verdict.QUOTA_EXHAUSTED


def test_limit_zero_is_quota_exhausted():
    message = "* Quota exceeded for metric: x, limit: 0, model: gemini-2.5-pro\nPlease retry in 3s."
    assert classify_response(429, body(429, "RESOURCE_EXHAUSTED", message)).verdict is Verdict.QUOTA_EXHAUSTED


def test_api_key_invalid_hides_in_a_400():
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
    outcome = classify_response(400, body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details))
    assert outcome.verdict is Verdict.KEY_INVALID


def test_plain_400_is_the_clients_problem():
    outcome = classify_response(400, body(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
    assert outcome.verdict is Verdict.CLIENT_ERROR
    assert not outcome.retry_elsewhere


def test_failed_precondition_and_403():
    assert classify_response(400, body(400, "FAILED_PRECONDITION", "User location is not supported")).verdict is Verdict.KEY_PRECONDITION
    assert classify_response(403, body(403, "PERMISSION_DENIED", "denied")).verdict is Verdict.KEY_FORBIDDEN


@pytest.mark.parametrize("status", [500, 503, 504])
def test_server_errors_are_transient(status):
    assert classify_response(status, b"not json").verdict is Verdict.TRANSIENT


def test_404_and_success():
    assert classify_response(404, body(404, "NOT_FOUND", "models/x is not found")).verdict is Verdict.CLIENT_ERROR
    assert classify_response(200, b"{}").verdict is Verdict.OK


def test_transport_errors_are_retried_elsewhere_and_mark_the_key_unanswered():
    outcome = classify_transport_error("timeout")
    assert outcome.verdict is Verdict.UNANSWERED and outcome.retry_elsewhere


def test_array_envelope_is_understood():
    data = json.loads(body(400, "INVALID_ARGUMENT", "x", [{"@type": "google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]))
    assert classify_response(400, json.dumps([data]).encode()).verdict is Verdict.KEY_INVALID


def test_pacific_midnight_standard_time():
    now = datetime(2026, 11, 26, 23, 30, tzinfo=PACIFIC).timestamp()
    midnight = datetime.fromtimestamp(next_pacific_midnight(now), PACIFIC)
    assert (midnight.month, midnight.day, midnight.hour, midnight.minute) == (11, 27, 0, 0)


def test_pacific_midnight_across_dst_change():
    # 2026-03-08 is the spring-forward day: that local day has 23 hours.
    now = datetime(2026, 3, 8, 0, 30, tzinfo=PACIFIC).timestamp()
    reset = next_pacific_midnight(now)
    assert datetime.fromtimestamp(reset, PACIFIC).day == 9
    assert reset - now == pytest.approx(22.5 * 3600)


# -- Mistral ---------------------------------------------------------------------------------


def _mistral(error) -> tuple[int, bytes, dict]:
    return error.status, json.dumps(error.body).encode(), dict(error.headers)


@pytest.mark.parametrize(
    ("name", "verdict", "retry_after"),
    [
        ("rate_limited", Verdict.RATE_LIMITED, 7.0),
        ("rate_limited_bare", Verdict.RATE_LIMITED, 7.0),
        ("capacity_exceeded", Verdict.RATE_LIMITED, CAPACITY_COOLDOWN_SECONDS),
        ("monthly_limit", Verdict.QUOTA_EXHAUSTED, None),
        ("payment_required", Verdict.QUOTA_EXHAUSTED, None),
        ("unauthorized", Verdict.KEY_INVALID, None),
        ("internal", Verdict.TRANSIENT, None),
        ("unavailable", Verdict.TRANSIENT, None),
    ],
)
def test_mistral_failures(name: str, verdict: Verdict, retry_after: float | None) -> None:
    builder = getattr(mistral_errors, name)
    error = builder(7) if name.startswith("rate_limited") else builder()
    outcome = classify_mistral_response(*_mistral(error))
    assert (outcome.verdict, outcome.retry_after) == (verdict, retry_after)


def test_mistrals_request_errors_are_the_clients() -> None:
    for error in (mistral_errors.tool_call_id("call_1"), mistral_errors.unprocessable([]), mistral_errors.last_role("assistant")):
        assert classify_mistral_response(*_mistral(error)).verdict is Verdict.CLIENT_ERROR


def test_a_retry_after_that_is_no_number_falls_back_to_the_default_cooldown() -> None:
    outcome = classify_mistral_response(429, b"{}", {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert outcome.verdict is Verdict.RATE_LIMITED and outcome.retry_after is None


def _anthropic(status: int, kind: str, message: str = "", details: dict | None = None) -> bytes:
    error = {"type": kind, "message": message} | ({"details": details} if details else {})
    return json.dumps({"type": "error", "error": error, "request_id": "req_1"}).encode()


@pytest.mark.parametrize(
    ("status", "body", "headers", "verdict", "retry_after"),
    [
        (401, _anthropic(401, "authentication_error", "invalid x-api-key"), {}, Verdict.KEY_INVALID, None),
        (403, _anthropic(403, "permission_error"), {}, Verdict.KEY_FORBIDDEN, None),
        (402, _anthropic(402, "billing_error"), {}, Verdict.QUOTA_EXHAUSTED, None),
        (400, _anthropic(400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API."), {},
         Verdict.QUOTA_EXHAUSTED, None),
        (400, _anthropic(400, "invalid_request_error", "You have reached your specified workspace API usage limits."), {},
         Verdict.QUOTA_EXHAUSTED, None),
        (400, _anthropic(400, "invalid_request_error", "messages: text content blocks must be non-empty"), {}, Verdict.CLIENT_ERROR, None),
        (429, _anthropic(429, "rate_limit_error", "slow down"), {"Retry-After": "7"}, Verdict.RATE_LIMITED, 7.0),
        (429, _anthropic(429, "rate_limit_error"), {"retry-after-ms": "1500", "retry-after": "2"}, Verdict.RATE_LIMITED, 1.5),
        (429, _anthropic(429, "rate_limit_error"), {"anthropic-ratelimit-requests-reset": "2023-11-14T22:14:00Z"},
         Verdict.RATE_LIMITED, 1_700_000_040.0 - 1_700_000_000.0),
        (429, _anthropic(429, "rate_limit_error", "monthly", {"error_code": "enforced_spend_limit_reached"}), {},
         Verdict.QUOTA_EXHAUSTED, None),
        (529, _anthropic(529, "overloaded_error", "Overloaded"), {"retry-after": "3"}, Verdict.TRANSIENT, None),
        (500, _anthropic(500, "api_error"), {}, Verdict.TRANSIENT, None),
        (404, _anthropic(404, "not_found_error", "model: claude-x"), {}, Verdict.CLIENT_ERROR, None),
    ],
)  # fmt: skip
def test_anthropic_answers(status, body, headers, verdict, retry_after):
    outcome = classify_anthropic_response(status, body, headers, now=1_700_000_000.0)
    assert outcome.verdict is verdict and outcome.retry_after == retry_after
