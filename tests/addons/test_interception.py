"""Interception: which flows and connections are the router's in proxy mode."""

from __future__ import annotations

import pytest
from hpn_router.addons.answers import is_client_flow
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import context
from hpn_router.addons.health import Health
from hpn_router.addons.interception import Interception, router_serves
from hpn_router.config import parse_config
from hpn_router.core.state import RouterState
from mitmproxy import connection
from mitmproxy.options import Options
from mitmproxy.proxy import layer, layers
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import taddons, tflow

REGULAR = ProxyMode.parse("regular@127.0.0.1:8888")
REVERSE = ProxyMode.parse("reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080")
HOSTS = frozenset({"api.openai.com"})


@pytest.mark.parametrize(
    "mode,host,served",
    [
        (REVERSE, "generativelanguage.googleapis.com", True),
        (REVERSE, "anything.example", True),
        (REGULAR, "api.openai.com", True),
        (REGULAR, "API.OpenAI.com.", True),
        (REGULAR, "example.com", False),
        (REGULAR, "api.openai.com.evil.example", False),
        (REGULAR, "127.0.0.1", False),
    ],
)
def test_router_serves(mode, host, served):
    assert router_serves(mode, host, HOSTS) is served


def _flow(mode: ProxyMode, url: str):
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = mode
    flow.request.url = url
    return flow


def test_requests_for_other_hosts_are_passthrough_and_nobody_answers_them():
    addon, health = Interception(), Health(RouterState())
    flow = _flow(REGULAR, "http://example.com/health")
    addon.requestheaders(flow)
    assert context(flow).passthrough is True and not is_client_flow(flow)
    health.request(flow)
    Endpoints().request(flow)
    assert flow.response is None and context(flow).route is None


@pytest.mark.parametrize(
    "mode,url", [(REGULAR, "https://api.openai.com/v1/models"), (REVERSE, "https://generativelanguage.googleapis.com/v1/models")]
)
def test_requests_for_the_router_are_left_to_it(mode, url):
    flow = _flow(mode, url)
    Interception().requestheaders(flow)
    assert not context(flow).passthrough and is_client_flow(flow)


def test_a_replayed_flow_starts_with_a_fresh_context():
    """mitmweb replays the same flow object: what its last run decided (an answer of the
    router's own, a relayed stream, a route) must not carry over to the new run."""
    flow = _flow(REVERSE, "https://generativelanguage.googleapis.com/v1/chat/completions")
    Interception().requestheaders(flow)
    first = context(flow)
    first.local, first.relayed, first.route = True, True, "chat"
    flow.is_replay = "request"
    Interception().requestheaders(flow)
    assert context(flow) is not first and (context(flow).local, context(flow).relayed, context(flow).route) == (False, False, None)


def test_intercept_hosts_come_from_the_config():
    addon = Interception()
    addon.apply(parse_config({"key_pool": {"keys": [{"name": "k", "key": "AIzaK"}]}, "intercept_hosts": ["llm.internal.test"]}, {}))
    flow = _flow(REGULAR, "https://api.openai.com/v1/models")
    addon.requestheaders(flow)
    assert context(flow).passthrough is True


def _next_layer(mode: ProxyMode, address: tuple[str, int] | None, transport: str = "tcp") -> layer.NextLayer:
    client = connection.Client(
        peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8888), timestamp_start=0, proxy_mode=mode, transport_protocol=transport
    )  # type: ignore[arg-type]
    context = Context(client, Options())
    context.server.address = address
    return layer.NextLayer(context)


def test_tunnels_to_other_hosts_become_raw_relays():
    with taddons.context():
        nl = _next_layer(REGULAR, ("example.com", 443))
        Interception().next_layer(nl)
        assert isinstance(nl.layer, layers.TCPLayer) and nl.layer.flow is None  # ignored: no flow, no inspection
        udp = _next_layer(REGULAR, ("example.com", 443), "udp")
        Interception().next_layer(udp)
        assert isinstance(udp.layer, layers.UDPLayer) and udp.layer.flow is None


@pytest.mark.parametrize(
    "mode,address",
    [(REGULAR, ("api.openai.com", 443)), (REGULAR, None), (REVERSE, ("generativelanguage.googleapis.com", 443))],
)
def test_the_router_s_connections_are_left_to_mitmproxy(mode, address):
    with taddons.context():
        nl = _next_layer(mode, address)
        Interception().next_layer(nl)
        assert nl.layer is None


def test_a_layer_another_addon_chose_stands():
    with taddons.context():
        nl = _next_layer(REGULAR, ("example.com", 443))
        chosen = layers.HttpLayer(nl.context, layers.http.HTTPMode.transparent)
        nl.layer = chosen
        Interception().next_layer(nl)
        assert nl.layer is chosen


def test_the_router_never_connects_to_an_intercepted_host():
    addon = Interception()
    refused = ServerConnectionHookData(server=connection.Server(address=("api.openai.com", 443)), client=tflow.tclient_conn())
    addon.server_connect(refused)
    assert "never connects" in (refused.server.error or "")
    relay = ServerConnectionHookData(server=connection.Server(address=("127.0.0.1", 41000)), client=tflow.tclient_conn())
    addon.server_connect(relay)
    assert relay.server.error is None


def test_unknown_paths_say_who_answers_in_proxy_mode():
    endpoints = Endpoints()
    flow = _flow(REGULAR, "https://api.openai.com/v1/audio/speech")
    flow.request.method = "POST"
    endpoints.request(flow)
    assert flow.response is not None and flow.response.status_code == 404
    message = flow.response.json()["error"]["message"]
    assert message.startswith("HPN Router (a Gemini gateway answering for api.openai.com) does not serve /v1/audio/speech.")
