"""Mistral's varied error bodies: the documented envelope, the 422 detail list, the gateway shapes."""

from __future__ import annotations

from mistral_emulator import errors


def test_envelope_has_the_documented_fields() -> None:
    error = errors.envelope(400, "bad", "invalid_request_error")
    assert error.body == {"object": "error", "message": "bad", "type": "invalid_request_error", "param": None, "code": None}
    assert error.message == "bad"


def test_unprocessable_nests_the_pydantic_detail_in_message() -> None:
    error = errors.unprocessable([errors.extra_forbidden(("seed",), 1), errors.missing(("model",), {})])
    assert error.status == 422
    assert error.message == {
        "detail": [
            {"type": "extra_forbidden", "loc": ["body", "seed"], "msg": "Extra inputs are not permitted", "input": 1},
            {"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": {}},
        ]
    }


def test_rate_limits_carry_retry_after_and_capacity_does_not() -> None:
    assert errors.rate_limited(9).headers == {"Retry-After": "9"}
    assert errors.rate_limited_bare(3).body == {"message": "Requests rate limit exceeded"}
    assert errors.rate_limited_bare(3).headers == {"Retry-After": "3"}
    assert errors.capacity_exceeded().headers == {}


def test_key_errors_have_no_envelope() -> None:
    assert errors.unauthorized().body == {"detail": "Unauthorized"}
    assert errors.unauthorized().message == "Unauthorized"
    assert errors.unauthorized_gateway("abc").body == {"message": "Unauthorized", "request_id": "abc"}


def test_statuses() -> None:
    assert [e.status for e in (errors.payment_required(), errors.internal(), errors.unavailable(), errors.not_found())] == [
        402,
        500,
        503,
        404,
    ]
