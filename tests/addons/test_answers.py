"""The helpers addons answer with: errors in the format of the client's API, JSON bodies read with a clear 400,
the Gemini request rewritten without the client's credentials, and failures answered."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hpn_router.addons.answers import (
    answer_error,
    answer_exception,
    answer_json,
    error_format,
    is_client_flow,
    local_response,
    parse_json_body,
    replace_body,
    rewrite_request,
)
from hpn_router.addons.flowcontext import GeminiListing, context
from hpn_router.core.errors import ClientApi, InvalidRequest, InvalidRequestError, NoUsableKeyError, RateLimitedError
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from mitmproxy.utils import typecheck


def client_flow(content: bytes = b"{}"):
    flow = tflow.tflow()
    flow.response = None
    flow.request.content = content
    return flow


def test_answers_make_the_flow_no_longer_a_client_flow_to_handle():
    flow = client_flow()
    assert is_client_flow(flow)
    answer_error(flow, RateLimitedError("slow down", retry_after=2))
    assert not is_client_flow(flow)
    assert flow.response.status_code == 429 and flow.response.headers["retry-after"] == "2"
    assert json.loads(flow.response.content)["error"]["message"] == "slow down"
    other = client_flow()
    answer_json(other, 201, {"é": 1}, {"x-extra": "1"})
    assert other.response.content == '{"é": 1}'.encode() and other.response.headers["x-extra"] == "1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"  ", "The request body is empty; expected a JSON object."),
        (b"{nope", "The request body is not valid JSON"),
        (b'{"a": "\\ud800"}', "half of a UTF-16 surrogate pair"),
        (b'{"a": "\xff"}', "The request body is not valid UTF-8 JSON."),
    ],
)
def test_a_body_that_is_not_json_is_a_400_saying_why(content, message):
    with pytest.raises(InvalidRequestError) as raised:
        parse_json_body(client_flow(content))
    assert message in raised.value.message and raised.value.status == 400


def test_the_rewritten_request_carries_no_client_credentials():
    flow = client_flow()
    for name in ("authorization", "x-goog-api-key", "x-api-key", "cookie", "openai-organization", "OpenAI-Project"):
        flow.request.headers[name] = "secret"
    flow.request.headers["content-type"] = "text/plain"
    flow.request.headers["user-agent"] = "sdk"
    rewrite_request(flow, "POST", "/v1beta/models/m:generateContent", b'{"contents": []}')
    assert "secret" not in str(flow.request.headers.fields)
    assert flow.request.headers["content-type"] == "application/json" and flow.request.headers["user-agent"] == "sdk"
    assert flow.request.path == "/v1beta/models/m:generateContent" and flow.request.content == b'{"contents": []}'


def test_exceptions_are_answered_by_kind_and_unexpected_ones_without_their_text():
    invalid, known, unexpected = client_flow(), client_flow(), client_flow()
    with taddons.context():
        answer_exception(invalid, InvalidRequest("bad role", param="messages[0].role"), "translate the request")
        answer_exception(known, RateLimitedError("later", retry_after=1), "translate the request")
        answer_exception(unexpected, KeyError("AIzaSySecretInAnError"), "translate the request")
    assert invalid.response.status_code == 400 and json.loads(invalid.response.content)["error"]["param"] == "messages[0].role"
    assert known.response.status_code == 429
    assert unexpected.response.status_code == 500 and "AIzaSy" not in unexpected.response.text


def test_the_error_format_follows_the_endpoint_then_the_path():
    flow = client_flow()
    flow.request.path = "/v1beta/models/gemini-2.5-flash:generateContent"
    assert error_format(flow) is ClientApi.GEMINI  # not routed yet (Access answers before Endpoints)
    context(flow).route = "chat"  # ChatTranslation rewrote the path into Gemini's: the client still speaks OpenAI
    assert error_format(flow) is ClientApi.OPENAI
    context(flow).route = "native"
    assert error_format(flow) is ClientApi.GEMINI
    listing = client_flow()
    listing.request.method, listing.request.path = "GET", "/v1/models"
    assert error_format(listing) is ClientApi.OPENAI
    context(listing).route = "models"
    assert error_format(listing) is ClientApi.OPENAI
    context(listing).gemini_listing = GeminiListing(page_size=None, page_token=None)  # google-genai listing on /v1
    assert error_format(listing) is ClientApi.GEMINI
    google = client_flow()
    google.request.method, google.request.path = "GET", "/v1/models/gemini-2.5-flash"
    google.request.headers["x-goog-api-key"] = "client-key"
    assert error_format(google) is ClientApi.GEMINI  # not routed yet (a 401): its headers tell a Google client
    connect = tflow.tflow()
    connect.request.method, connect.request.path = "CONNECT", ""
    assert error_format(connect) is ClientApi.OPENAI


def test_an_anthropic_client_is_told_by_its_route_path_or_header():
    messages = client_flow()
    messages.request.path = "/v1/messages"
    assert error_format(messages) is ClientApi.ANTHROPIC  # not routed yet (a 401 from Access)
    context(messages).route = "messages"
    messages.request.path = "/v1beta/models/gemini-2.5-flash:generateContent"  # rewritten into Gemini's
    assert error_format(messages) is ClientApi.ANTHROPIC
    context(messages).route = "count_tokens"
    assert error_format(messages) is ClientApi.ANTHROPIC
    listing = client_flow()
    listing.request.method, listing.request.path = "GET", "/v1/models"
    listing.request.headers["anthropic-version"] = "2023-06-01"
    assert error_format(listing) is ClientApi.ANTHROPIC


def test_a_google_client_gets_the_routers_errors_in_googles_envelope():
    flow = client_flow()
    flow.request.path = "/v1beta/models/gemini-2.5-flash:generateContent"
    context(flow).route = "native"
    answer_error(flow, NoUsableKeyError("Every Gemini key in the pool is disabled."))
    assert flow.response.status_code == 503 and flow.response.headers["x-should-retry"] == "false"
    error = json.loads(flow.response.content)["error"]
    assert (error["code"], error["status"], error["message"]) == (503, "UNAVAILABLE", "Every Gemini key in the pool is disabled.")


def test_a_local_response_is_what_response_make_builds():
    made = http.Response.make(201, b'{"a": 1}', {"content-type": "application/json", "X-HPN-Cache": "HIT"})
    local = local_response(201, b'{"a": 1}', {"content-type": "application/json", "X-HPN-Cache": "HIT"})
    assert (local.http_version, local.status_code, local.reason) == (made.http_version, made.status_code, made.reason)
    assert local.headers.fields == made.headers.fields  # content-length last, as make sets it
    assert local.raw_content == made.raw_content and local.trailers is None
    assert local.timestamp_start is not None and local.timestamp_end == local.timestamp_start
    assert local.get_state() == {**made.get_state(), "timestamp_start": local.timestamp_start, "timestamp_end": local.timestamp_end}


def test_a_local_response_holds_the_types_mitmproxy_checks():
    # local_response skips ResponseData's debug-mode type check: every field must pass it anyway.
    local = local_response(404, b"", {"content-type": "text/plain"})
    for field in dataclasses.fields(local.data):
        typecheck.check_option_type(field.name, getattr(local.data, field.name), field.type)
    assert [f.name for f in dataclasses.fields(local.data)] == list(vars(local.data))  # every field set, no other


def test_a_replaced_body_is_what_clearing_the_headers_and_setting_content_gives():
    upstream = {"content-type": "text/event-stream", "server-timing": "gfet4t7; dur=12", "content-encoding": "identity"}
    fast, slow = http.Response.make(200, b"old", upstream), http.Response.make(200, b"old", upstream)
    replace_body(fast, b'{"answer": "\xc3\xa9"}')
    slow.headers.clear()
    slow.headers["content-type"] = "application/json"
    slow.content = b'{"answer": "\xc3\xa9"}'
    assert fast.headers.fields == slow.headers.fields == ((b"content-type", b"application/json"), (b"content-length", b"16"))
    assert fast.raw_content == slow.raw_content == fast.content
    replace_body(fast, b"data: x\n\n", "text/event-stream")
    assert fast.headers["content-type"] == "text/event-stream" and fast.headers["content-length"] == "9"
