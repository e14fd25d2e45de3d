"""CorsPreflight / CorsHeaders hooks: what they answer and which flows they leave alone."""

from __future__ import annotations

from hpn_router.addons import meta
from hpn_router.addons.cors import Cors, CorsHeaders, CorsPreflight
from hpn_router.addons.flowcontext import context
from hpn_router.config import parse_config
from mitmproxy import http
from mitmproxy.test import tflow, tutils

APP = "https://app.example.com"
CONFIG = parse_config({"key_pool": {"keys": [{"name": "k", "key": "AIzaSyK"}]}, "server": {"cors_origins": [APP]}}, {})


def make() -> tuple[CorsPreflight, CorsHeaders]:
    cors = Cors()
    cors.apply(CONFIG)
    return CorsPreflight(cors), CorsHeaders(cors)


def options(path: str, origin: str = APP) -> http.HTTPFlow:
    headers = [(b"origin", origin.encode()), (b"access-control-request-method", b"post")]
    flow = tflow.tflow(req=tutils.treq(method=b"OPTIONS", path=path.encode(), headers=headers, content=b""))
    flow.response = None
    return flow


def test_preflight_for_an_unknown_path_allows_the_method_asked_for() -> None:
    preflight, _ = make()
    flow = options("/v1/not-served")
    preflight.request(flow)
    assert flow.response.status_code == 204 and flow.response.headers["access-control-allow-methods"] == "POST"


def test_passthrough_and_attempt_flows_are_left_alone() -> None:
    preflight, headers = make()
    for passthrough, attempt_of in ((True, None), (False, "client-flow-id")):
        flow = options("/v1/chat/completions")
        context(flow).passthrough = passthrough
        if attempt_of:
            flow.metadata[meta.ATTEMPT_OF] = attempt_of
        preflight.request(flow)
        assert flow.response is None
        flow.response = http.Response.make(200, b"other host")
        headers.response(flow)
        assert "access-control-allow-origin" not in flow.response.headers


def test_vary_is_appended_to_once() -> None:
    _, headers = make()
    flow = tflow.tflow(req=tutils.treq(headers=[(b"origin", APP.encode())]))
    flow.response = http.Response.make(200, b"{}", {"vary": "Accept-Encoding"})
    headers.responseheaders(flow)
    headers.response(flow)
    assert flow.response.headers["vary"] == "Accept-Encoding, Origin"
    assert flow.response.headers["access-control-allow-origin"] == APP
