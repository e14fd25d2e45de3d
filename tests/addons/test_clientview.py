"""ClientView: a finished client flow shows the request the client sent; attempt replays are refused."""

from __future__ import annotations

import json

from flowtools import chat_flow
from hpn_router.addons import meta
from hpn_router.addons.answers import rewrite_request
from hpn_router.addons.clientview import ClientView, NoteClientRequest, ShowClientRequest
from hpn_router.addons.flowcontext import context
from mitmproxy import http
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}


class Pair:
    """The two addons as router.py wires them, sharing one table."""

    def __init__(self) -> None:
        table = ClientView()
        self.note, self.show = NoteClientRequest(table), ShowClientRequest(table)
        self.sent = table.sent


def handled(flow: http.HTTPFlow, view: Pair) -> None:
    """What the router does between the hooks: a Gemini request, then the relay as target."""
    view.note.requestheaders(flow)
    view.note.request(flow)
    rewrite_request(flow, "POST", "/v1beta/models/gemini-flash-latest:streamGenerateContent?alt=sse", b'{"contents": []}')
    flow.request.scheme, flow.request.host, flow.request.port = "http", "127.0.0.1", 40000


def test_the_finished_flow_shows_the_clients_request_in_proxy_mode() -> None:
    view = Pair()
    flow = chat_flow(BODY, headers={"authorization": "Bearer sk-client-token-0123456789"})
    flow.request.scheme, flow.request.host, flow.request.port = "https", "api.openai.com", 443
    handled(flow, view)
    flow.response = http.Response.make(200, b"{}")
    view.show.response(flow)
    assert flow.request.url == "https://api.openai.com/v1/chat/completions"
    assert json.loads(flow.request.content or b"") == BODY
    assert flow.request.headers["authorization"] == "Bearer sk-client-token-0123456789"  # FlowRedaction, later, scrubs it


def test_reverse_mode_shows_the_routers_listener_not_the_reverse_target() -> None:
    view = Pair()
    flow = chat_flow(BODY)
    flow.client_conn.proxy_mode = ProxyMode.parse("reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080")
    flow.client_conn.sockname = ("127.0.0.1", 8080)
    flow.client_conn.timestamp_tls_setup = None  # a plain-HTTP client, as base_url=http://...
    flow.request.scheme, flow.request.host, flow.request.port = "https", "generativelanguage.googleapis.com", 443
    handled(flow, view)
    flow.response = http.Response.make(200, b"data: {}\n\n")
    context(flow).relayed = True
    view.show.responseheaders(flow)  # a relayed stream: shown as the client's request while it streams
    assert flow.request.url == "http://127.0.0.1:8080/v1/chat/completions"
    assert flow.request.headers["host"] == "127.0.0.1:8080"
    view.show.response(flow)
    assert flow.request.url == "http://127.0.0.1:8080/v1/chat/completions"


def test_a_flow_that_failed_shows_the_clients_request_too() -> None:
    view = Pair()
    flow = chat_flow(BODY)
    handled(flow, view)
    view.show.error(flow)
    assert flow.request.path == "/v1/chat/completions" and json.loads(flow.request.content or b"") == BODY


def test_a_replayed_attempt_is_refused_before_anything_is_sent() -> None:
    flow = tflow.tflow()
    flow.metadata[meta.ATTEMPT_OF] = "client-flow-id"
    flow.is_replay = "request"
    flow.request.headers["x-goog-api-key"] = "<key:key_1>"
    Pair().note.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 403
    assert json.loads(flow.response.content or b"")["error"]["code"] == "attempt_replay_refused"


def test_passthrough_flows_are_not_touched() -> None:
    view = Pair()
    flow = tflow.tflow()
    context(flow).passthrough = True
    view.note.requestheaders(flow)
    view.note.request(flow)
    assert view.sent == {}


def test_an_answer_that_is_not_streamed_keeps_the_upstream_request_until_response() -> None:
    """Translators may read the upstream request in `response` (embeddings read their batches)."""
    view = Pair()
    flow = chat_flow(BODY)
    handled(flow, view)
    flow.response = http.Response.make(200, b"{}")
    view.show.responseheaders(flow)
    assert flow.request.path.startswith("/v1beta/models/")
    view.show.response(flow)
    assert flow.request.path == "/v1/chat/completions"
