"""The one reader of Google's error envelope: object and array forms, each detail found by its
@type in any order, and any body that is not the envelope read as an empty error. The writer
makes the envelope google-genai reads."""

from __future__ import annotations

import json

import pytest
from hpn_router.core.providers.gemini.errors import (
    GeminiError,
    QuotaViolation,
    gemini_error_body,
    google_status,
    parse_duration,
    parse_gemini_error,
)

T = "type.googleapis.com/google.rpc."
RATE_LIMITED = {
    "code": 429,
    "status": "RESOURCE_EXHAUSTED",
    "message": "You exceeded your current quota.\nPlease retry in 37.218164051s.",
    "details": [
        {"@type": T + "Help", "links": []},
        {
            "@type": T + "QuotaFailure",
            "violations": [
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "10"},
                {"quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"},
            ],
        },
        {"@type": T + "RetryInfo", "retryDelay": "37s"},
    ],
}


def test_a_429_gives_its_status_quota_violations_and_retry_delay():
    error = parse_gemini_error(json.dumps({"error": RATE_LIMITED}).encode())
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED") and error.message.startswith("You exceeded")
    assert error.violations == (
        QuotaViolation("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", 10),
        QuotaViolation("GenerateContentInputTokensPerModelPerMinute-FreeTier", None),
    )
    assert error.retry_delay == 37.0  # RetryInfo first, before the message's own hint


def test_the_array_form_reads_like_the_object():
    as_object = parse_gemini_error(json.dumps({"error": RATE_LIMITED}))
    assert parse_gemini_error(json.dumps([{"error": RATE_LIMITED}]).encode()) == as_object


def test_error_info_reasons_and_field_violations_in_any_order():
    details = [
        {"@type": T + "BadRequest", "fieldViolations": [{"description": "no field"}, {"field": "tools[0]"}, {"field": "contents"}]},
        {"@type": T + "LocalizedMessage", "message": "x"},
        {"@type": T + "ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"},
    ]
    error = parse_gemini_error(json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "m", "details": details}}))
    assert error.reasons == {"API_KEY_INVALID"} and error.field_violations == ("tools[0]", "contents")


def test_missing_details_leave_their_fields_empty():
    error = parse_gemini_error(b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}')
    assert error == GeminiError(code=503, status="UNAVAILABLE", message="The model is overloaded.")
    assert error.quota_ids == [] and error.retry_delay is None


def test_the_message_alone_can_say_when_to_retry():
    assert parse_gemini_error(b'{"error": {"message": "Please retry in 250ms."}}').retry_delay == 0.25
    assert parse_gemini_error(b'{"error": {"message": "please retry in 3s."}}').retry_delay == 3.0


@pytest.mark.parametrize(
    "body",
    [None, b"", "", b"\xff\xfe", b"<html>502 Bad Gateway</html>", b"[]", b"[1]", b"null", b'{"error": "text"}', b'{"code": 429}'],
)
def test_a_body_that_is_not_the_envelope_is_an_empty_error(body):
    assert parse_gemini_error(body) == GeminiError()


def test_odd_values_inside_the_envelope_are_ignored_not_raised():
    error = {
        "code": True,
        "status": 7,
        "message": None,
        "details": [
            "text",
            {"@type": T + "QuotaFailure", "violations": {"quotaId": "x"}},
            {"@type": T + "QuotaFailure", "violations": [{"quotaId": "PerDay", "quotaValue": "²"}]},  # a digit int() refuses
            {"@type": T + "RetryInfo", "retryDelay": 5},
            {"@type": T + "BadRequest", "fieldViolations": "contents"},
        ],
    }
    assert parse_gemini_error(json.dumps({"error": error})) == GeminiError(violations=(QuotaViolation("PerDay", None),))


@pytest.mark.parametrize("text,seconds", [("37s", 37.0), ("0.5s", 0.5), ("45.837906927s", 45.837906927), ("x", None), (None, None)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_the_written_envelope_reads_back_through_the_parser():
    body = gemini_error_body(429, "Every key is cooling.", reason="rate_limit_exceeded", retry_after=1.2, field="model")
    assert body["error"]["code"] == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"
    error = parse_gemini_error(json.dumps(body))
    assert error.reasons == {"RATE_LIMIT_EXCEEDED"} and error.retry_delay == 2.0 and error.field_violations == ("model",)
    assert gemini_error_body(404, "gone") == {"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}}  # no empty details


def test_every_status_has_googles_canonical_name():
    assert [google_status(s) for s in (400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504)] == [
        "INVALID_ARGUMENT",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "NOT_FOUND",
        "UNIMPLEMENTED",
        "INVALID_ARGUMENT",
        "RESOURCE_EXHAUSTED",
        "INTERNAL",
        "UNAVAILABLE",
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
    ]
    assert (google_status(418), google_status(599)) == ("FAILED_PRECONDITION", "INTERNAL")
