"""Timeouts: which connections get a deadline, in mitmproxy's hook order."""

from __future__ import annotations

from hpn_router.addons.timeouts import Timeouts
from hpn_router.config import parse_config
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

REGULAR = ProxyMode.parse("regular@127.0.0.1:8888")
CONFIG = parse_config({"server": {"header_timeout_seconds": 2, "idle_timeout_seconds": 5}}, {"HPN_API_KEYS": "AIzaTestKey"})


def addon_at(now: list[float]) -> Timeouts:
    timeouts = Timeouts(clock=lambda: now[0])
    timeouts.apply(CONFIG)
    return timeouts


def connect_flow(host: str) -> object:
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = REGULAR
    flow.request.method, flow.request.host, flow.request.port = "CONNECT", host, 443
    return flow


def test_a_request_clears_the_header_deadline_and_its_answer_starts_the_idle_one():
    now = [0.0]
    timeouts = addon_at(now)
    flow = tflow.tflow(resp=True)
    with taddons.context(timeouts):
        timeouts.client_connected(flow.client_conn)
        timeouts.requestheaders(flow)
        assert timeouts.deadlines.expired(100.0) == []
        now[0] = 100.0
        timeouts.response(flow)
        timeouts.error(flow)  # a late error for the same request changes nothing
        assert timeouts.deadlines.expired(104.9) == []
        assert timeouts.deadlines.expired(105.0) == [(flow.client_conn.id, "idle")]


def test_a_passthrough_tunnel_is_forgotten_and_an_intercepted_one_awaits_headers():
    now = [0.0]
    timeouts = addon_at(now)
    with taddons.context(timeouts):
        passthrough, intercepted = connect_flow("example.com"), connect_flow("api.openai.com")
        for flow in (passthrough, intercepted):
            timeouts.client_connected(flow.client_conn)
            timeouts.http_connect(flow)
            timeouts.http_connected(flow)
        assert timeouts.deadlines.expired(10**6) == [(intercepted.client_conn.id, "request headers too slow")]
