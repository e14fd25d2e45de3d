"""Exact Google error bodies built by gemini_emulator.errors."""

from __future__ import annotations

import pytest
from gemini_emulator import errors
from gemini_emulator.errors import PER_DAY, PER_MINUTE, Violation

KEY = "AIzaSyTestSuspended00000000000000000007"


def _types(error: errors.GoogleError) -> list[str]:
    return [d["@type"].rsplit(".", 1)[1] for d in error.body["error"].get("details", [])]


def test_api_key_invalid_matches_google() -> None:
    error = errors.api_key_invalid()
    assert error.status == 400
    assert error.body == {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                    "locale": "en-US",
                    "message": "API key not valid. Please pass a valid API key.",
                },
            ],
        }
    }


def test_expired_key_is_api_key_invalid_with_other_text() -> None:
    error = errors.api_key_expired()
    assert error.message == "API key expired. Please renew the API key."
    assert error.body["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize("builder", [errors.forbidden, errors.suspended])
def test_403_bodies_quote_the_key(builder) -> None:  # type: ignore[no-untyped-def]
    error = builder(KEY, "123456789012")
    assert (error.status, error.body["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert error.message == f"Permission denied: Consumer 'api_key:{KEY}' has been suspended."
    assert error.body["error"]["details"][0]["reason"] == "CONSUMER_SUSPENDED"


def test_missing_key_body() -> None:
    error = errors.missing_key()
    assert error.status == 403
    assert error.message.startswith("Method doesn't allow unregistered callers")
    assert "details" not in error.body["error"]


def test_quota_exceeded_shape_and_rotation() -> None:
    orders = set()
    for rotation in range(3):
        error = errors.quota_exceeded(
            "gemini-2.5-flash", [Violation(PER_MINUTE, 10)], retry_in=37.218164051, retry_delay="37s", rotation=rotation
        )
        orders.add(tuple(_types(error)))
        details = {d["@type"].rsplit(".", 1)[1]: d for d in error.body["error"]["details"]}
        assert details["RetryInfo"] == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
        violation = details["QuotaFailure"]["violations"][0]
        assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        assert violation["quotaDimensions"] == {"location": "global", "model": "gemini-2.5-flash"}
    assert len(orders) == 3
    assert error.message.endswith("limit: 10, model: gemini-2.5-flash\nPlease retry in 37.218164051s.")
    assert "rate-limit. \n* Quota exceeded for metric: " in error.message


def test_quota_exceeded_without_retry_info_still_quotes_delay() -> None:
    error = errors.quota_exceeded("m", [Violation(PER_DAY, 0)], retry_in=2, retry_delay=None, rotation=0)
    assert sorted(_types(error)) == ["Help", "QuotaFailure"]
    assert "limit: 0, model: m" in error.message and error.message.endswith("Please retry in 2s.")


@pytest.mark.parametrize(("seconds", "text"), [(2, "2s"), (1.5, "1.5s"), (45.837906927, "45.837906927s")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert errors.format_seconds(seconds) == text


def test_bare_429_has_no_details() -> None:
    assert errors.resource_exhausted_bare().body == {
        "error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}
    }
