"""Error bodies and headers in Anthropic's shapes."""

from __future__ import annotations

from anthropic_emulator import errors


def test_envelope_and_request_id() -> None:
    error = errors.invalid_request("max_tokens: Field required")
    assert error.body("req_1") == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        "request_id": "req_1",
    }
    assert error.headers() == {}


def test_retry_headers() -> None:
    assert errors.overloaded(3).headers() == {"retry-after": "3", "retry-after-ms": "3000", "x-should-retry": "true"}
    assert errors.overloaded().event() == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    limited = errors.rate_limited("org-uuid", 50, None)
    assert (limited.status, limited.type) == (429, "rate_limit_error") and "retry-after" not in limited.headers()
    assert "(org-uuid) of 50 requests per minute" in limited.message


def test_spend_limit_has_details_and_no_retry_after() -> None:
    error = errors.spend_limit("2026-04-01 at 00:00 UTC")
    assert error.body("r")["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}
    assert error.headers() == {"x-should-retry": "false"}


def test_statuses_and_types() -> None:
    table = [(errors.billing(), 402, "billing_error"), (errors.forbidden(), 403, "permission_error")]
    table += [
        (errors.internal(), 500, "api_error"),
        (errors.timeout(), 504, "timeout_error"),
        (errors.request_too_large(), 413, "request_too_large"),
    ]
    table += [(errors.missing_key(), 401, "authentication_error"), (errors.credit_too_low(), 400, "invalid_request_error")]
    for error, status, kind in table:
        assert (error.status, error.type) == (status, kind)
