"""The error tree: each error knows its status, OpenAI type and code, and its headers."""

from __future__ import annotations

import json

import pytest
from hpn_router.core.errors import (
    InvalidRequestError,
    MethodNotAllowed,
    NotFoundError,
    NoUsableKeyError,
    PayloadTooLarge,
    QuotaExhaustedError,
    RateLimitedError,
    RouterError,
    UpstreamError,
    router_failed,
    to_openai_error,
)


@pytest.mark.parametrize(
    ("error", "status", "type_"),
    [
        (RouterError("x"), 500, "server_error"),
        (InvalidRequestError("x", param="messages"), 400, "invalid_request_error"),
        (NotFoundError("x"), 404, "invalid_request_error"),
        (MethodNotAllowed("x", allowed=("GET", "POST")), 405, "invalid_request_error"),
        (PayloadTooLarge("x"), 413, "invalid_request_error"),
        (RateLimitedError("x", retry_after=1.2), 429, None),
        (QuotaExhaustedError("x"), 429, None),
        (NoUsableKeyError("x"), 503, None),
        (UpstreamError("x", status=502), 502, "server_error"),
        (UpstreamError("x", status=403, code="permission_denied"), 403, "invalid_request_error"),
    ],
)
def test_each_error_is_openais_envelope_with_its_status(error, status, type_):
    got_status, body, headers = to_openai_error(error)
    envelope = json.loads(body)
    assert got_status == status and headers["content-type"] == "application/json"
    assert set(envelope) == {"error"} and set(envelope["error"]) == {"message", "type", "param", "code"}
    assert envelope["error"]["message"] == "x"
    if type_:
        assert envelope["error"]["type"] == type_


def test_headers_tell_clients_when_and_whether_to_retry():
    limited = to_openai_error(RateLimitedError("x", retry_after=1.2))[2]
    assert (limited["retry-after"], limited["retry-after-ms"]) == ("2", "1200")
    assert to_openai_error(RateLimitedError("x", retry_after=0))[2]["retry-after"] == "1"  # never "retry now"
    assert to_openai_error(QuotaExhaustedError("x"))[2]["x-should-retry"] == "false"
    assert to_openai_error(QuotaExhaustedError("x", retry_after=3600))[2]["retry-after"] == "3600"
    assert to_openai_error(NoUsableKeyError("x"))[2]["x-should-retry"] == "false"
    assert to_openai_error(MethodNotAllowed("x", allowed=("GET", "POST")))[2]["allow"] == "GET, POST"


def test_the_routers_own_failure_says_nothing_of_its_cause():
    status, body, _ = to_openai_error(router_failed())
    assert status == 500 and json.loads(body)["error"]["message"] == "The router failed to handle this request."
