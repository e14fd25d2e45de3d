"""FlowRedaction: finished and in-flight flows hold no key, and no hook raises."""

from __future__ import annotations

import json

from flowtools import POOL_KEY, captured_logs, chat_flow, router_config
from hpn_router.addons import flowredaction, meta
from hpn_router.addons.flowcontext import context
from hpn_router.addons.flowredaction import FlowRedaction
from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

FRAGMENT = POOL_KEY[10:24]  # 14 characters of the key


def make() -> FlowRedaction:
    addon = FlowRedaction()
    addon.apply(router_config())
    return addon


def leaky_flow() -> http.HTTPFlow:
    """A flow with the key and client credentials wherever something could have put them."""
    flow = chat_flow(
        {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
        headers={
            "authorization": "Bearer sk-client-secret-token-1234567890",
            "x-goog-api-key": POOL_KEY,
            "cookie": "session=abc",
            "x-debug": f"tried {FRAGMENT}",
        },
    )
    flow.request.path = f"/v1beta/models/gemini-2.5-flash:generateContent?alt=sse&key={POOL_KEY}"
    body = {"error": {"code": 403, "message": f"Consumer 'api_key:{POOL_KEY}' has been suspended.", "status": "PERMISSION_DENIED"}}
    flow.response = http.Response.make(403, json.dumps(body), {"content-type": "application/json", "set-cookie": "a=b"})
    flow.comment = f"note {POOL_KEY}"
    flow.metadata["hpn.debug"] = {"seen": [f"x{FRAGMENT}y"]}
    return flow


def text_of(flow: http.HTTPFlow) -> str:
    """Everything a saved flow holds, as text."""
    return json.dumps(flow.get_state(), default=lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else repr(b))


def test_response_scrubs_headers_url_bodies_comment_and_metadata() -> None:
    flow = leaky_flow()
    make().response(flow)
    saved = text_of(flow)
    assert POOL_KEY[:12] not in saved and FRAGMENT not in saved and "sk-client-secret" not in saved
    assert flow.request.headers["authorization"] == "<redacted>"
    assert flow.request.headers["x-goog-api-key"] == "<redacted>"
    assert flow.request.headers["cookie"] == "<redacted>"
    assert flow.request.headers["x-debug"] == "tried <key:key_1>"
    assert flow.request.query["key"] == "<key:key_1>" and flow.request.query["alt"] == "sse"
    assert flow.response.headers["set-cookie"] == "<redacted>"
    assert "<key:key_1>" in flow.response.text and "suspended" in flow.response.text
    assert flow.comment == "note <key:key_1>"
    assert flow.metadata["hpn.debug"] == {"seen": ["x<key:key_1>y"]}


def test_successful_bodies_are_left_alone() -> None:
    flow = chat_flow({"model": "gpt-4", "messages": []})
    text = "Use Bearer tokens and ?key= parameters carefully."
    flow.response = http.Response.make(200, json.dumps({"content": text}), {"content-type": "application/json"})
    make().response(flow)
    assert json.loads(flow.response.content)["content"] == text


def test_error_hook_scrubs_the_error_message() -> None:
    flow = leaky_flow()
    flow.response = None
    flow.error = mflow.Error(f"Cannot connect to https://example.test/?key={POOL_KEY}: boom")
    make().error(flow)
    assert POOL_KEY[:12] not in flow.error.msg and "key=<redacted>" in flow.error.msg


async def test_done_scrubs_flows_in_flight_and_in_the_view() -> None:
    addon = make()
    view = View()
    with taddons.context(addon, view):
        in_flight = leaky_flow()
        in_flight.response = None
        addon.requestheaders(in_flight)
        finished = leaky_flow()
        addon.requestheaders(finished)
        addon.response(finished)
        attempt = tflow.tflow(resp=True)
        attempt.request.headers["x-goog-api-key"] = POOL_KEY
        attempt.metadata[meta.ATTEMPT_OF] = finished.id
        view.add([attempt])
        assert POOL_KEY[:12] in text_of(in_flight)
        addon.done()
    for f in (in_flight, attempt):
        assert POOL_KEY[:12] not in text_of(f) and FRAGMENT not in text_of(f)


async def test_done_runs_before_save_writes_flows_in_flight(tmp_path) -> None:
    """mitmproxy calls `done` on the addons in chain order; scripts (ScriptLoader) come
    before Save in default_addons(), so our scrub lands before Save writes."""
    from mitmproxy.addons import default_addons
    from mitmproxy.addons.save import Save
    from mitmproxy.addons.script import ScriptLoader

    names = [type(a) for a in default_addons()]
    assert names.index(ScriptLoader) < names.index(Save)
    addon, save = make(), Save()
    path = tmp_path / "flows.mitm"
    with taddons.context(save) as tctx:
        tctx.configure(save, save_stream_file=str(path))
        flow = leaky_flow()
        flow.response = None
        addon.requestheaders(flow)
        save.request(flow)  # in flight: Save writes it only at `done`
        addon.done()
        save.done()
    from mitmproxy.io import FlowReader

    with path.open("rb") as f:
        [read] = list(FlowReader(f).stream())
    assert POOL_KEY[:12] not in text_of(read)


def test_a_failing_scrub_still_drops_credential_headers(monkeypatch) -> None:
    def broken(flow: http.HTTPFlow, redactor: object) -> None:
        raise RuntimeError(f"scrub broke on {POOL_KEY}")

    monkeypatch.setattr(flowredaction, "scrub_flow", broken)
    flow = leaky_flow()
    with captured_logs() as logs:
        make().response(flow)  # does not raise
    assert "x-goog-api-key" not in flow.request.headers and "authorization" not in flow.request.headers
    assert any("flow redaction failed" in r["msg"] for r in logs)


def test_undecodable_header_bytes_survive() -> None:
    flow = chat_flow({"model": "gpt-4", "messages": []})
    flow.request.headers.fields = ((b"x-raw", b"\xff\xfe" + POOL_KEY.encode()),)
    make().response(flow)
    assert flow.request.headers.fields == ((b"x-raw", b"\xff\xfe<key:key_1>"),)


def test_error_bodies_keep_their_guidance_and_stay_json() -> None:
    message = "The admin API needs Authorization: Bearer <server.admin_token>."
    flow = chat_flow({"model": "gpt-4", "messages": []})
    flow.response = http.Response.make(
        401,
        json.dumps({"error": {"message": message, "key": POOL_KEY}}),
        {"content-type": "application/json", "www-authenticate": "Bearer"},
    )
    make().response(flow)
    body = json.loads(flow.response.content)
    assert body["error"] == {"message": message, "key": "<key:key_1>"}
    assert flow.response.headers["www-authenticate"] == "Bearer"


def passthrough_flow() -> http.HTTPFlow:
    """Proxy mode, a host the router does not serve: the app's own credentials for it."""
    flow = tflow.tflow(resp=True)
    context(flow).passthrough = True
    for name, value in {
        "authorization": "Bearer other-host-secret-0001",
        "proxy-authorization": "Basic b3RoZXI6c2VjcmV0",
        "cookie": "sid=other-host-cookie-0002",
        "x-api-key": "other-host-api-key-0003",
        "api-key": "azure-key-0004",
        "x-goog-api-key": POOL_KEY,
        "accept": "application/json",
    }.items():
        flow.request.headers[name] = value
    flow.response.headers["set-cookie"] = "sid=new-session"
    return flow


def test_passthrough_flows_lose_their_request_credentials_but_not_their_answer() -> None:
    """In `response` the request has been forwarded; the answer has not reached the app yet,
    so it stays as the other host sent it."""
    flow = passthrough_flow()
    answer = flow.response.get_state()
    make().response(flow)
    saved = text_of(flow)
    for secret in ("other-host-secret", "b3RoZXI6c2VjcmV0", "other-host-cookie", "other-host-api-key", "azure-key", POOL_KEY[:12]):
        assert secret not in saved
    for name in ("authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-goog-api-key"):
        assert flow.request.headers[name] == "<redacted>"
    assert flow.request.headers["accept"] == "application/json"
    assert flow.response.get_state() == answer


def test_passthrough_errors_and_flows_in_flight_at_shutdown_are_scrubbed() -> None:
    addon = make()
    failed = passthrough_flow()
    failed.response = None
    failed.error = mflow.Error("connection refused")
    addon.requestheaders(failed)
    addon.error(failed)
    assert failed.request.headers["authorization"] == "<redacted>"
    in_flight = passthrough_flow()
    in_flight.response = None
    addon.requestheaders(in_flight)
    with taddons.context(addon):
        addon.done()
    assert in_flight.request.headers["cookie"] == "<redacted>"


def test_only_the_routers_own_dashboard_session_cookie_reaches_the_browser() -> None:
    redaction = make()

    def answered(cookie: str, *, local: bool) -> http.HTTPFlow:
        flow = tflow.tflow(resp=True)
        flow.request.path = "/dashboard/login"
        flow.request.headers["cookie"] = "hpn_dashboard=the-browsers-session-id"
        flow.response.headers["set-cookie"] = cookie
        context(flow).local = local
        redaction.response(flow)
        return flow

    own = "hpn_dashboard=random-session-id; Max-Age=43200; Path=/; HttpOnly; SameSite=Strict"
    assert answered(own, local=True).response.headers["set-cookie"] == own
    assert answered(own, local=False).response.headers["set-cookie"] == "<redacted>"  # not the router's own answer
    assert answered("other=x", local=True).response.headers["set-cookie"] == "<redacted>"
    assert answered(own, local=True).request.headers["cookie"] == "<redacted>"  # what the browser sent is not kept
