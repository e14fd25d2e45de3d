"""PassthroughGuard: where the proxy listener's passthrough may connect."""

from __future__ import annotations

import pytest
from hpn_router.addons.flowcontext import context
from hpn_router.addons.passthrough import PassthroughGuard
from hpn_router.config import parse_config
from mitmproxy import connection
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import taddons, tflow

REGULAR = ProxyMode.parse("regular@127.0.0.1:8888")
REVERSE = ProxyMode.parse("reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080")
KEYS = {"key_pool": {"keys": [{"name": "k", "key": "AIzaK"}]}}
RELAY = 41999


def _guard(server: dict | None = None) -> PassthroughGuard:
    guard = PassthroughGuard(relay_port=lambda: RELAY)
    guard.apply(parse_config({**KEYS, "server": server or {}}, {}))
    return guard


def _connect(address: tuple[str, int], mode: ProxyMode = REGULAR) -> ServerConnectionHookData:
    client = tflow.tclient_conn()
    client.proxy_mode = mode
    return ServerConnectionHookData(server=connection.Server(address=address), client=client)


@pytest.mark.parametrize(
    "address,refused",
    [
        (("localhost", 6379), "loopback"),
        (("::ffff:127.0.0.1", 6379), "loopback"),
        (("169.254.169.254", 80), "link-local"),
        (("2130706433", 80), "loopback"),  # 127.0.0.1 spelled as one number
        (("127.0.0.1", 8888), "own ports"),
        (("no-such-host.invalid", 80), "could not be resolved"),
    ],
)
async def test_a_connection_to_an_internal_address_is_refused_where_it_is_dialled(address, refused):
    guard = _guard()
    with taddons.context(guard) as tctx:
        tctx.configure(guard, mode=["regular@127.0.0.1:8888"])
        data = _connect(address)
        await guard.server_connect(data)
        assert refused in (data.server.error or "")


async def test_an_allowed_connection_is_pinned_to_the_checked_address():
    guard = _guard()
    data = _connect(("93.184.216.34", 443))
    await guard.server_connect(data)
    assert data.server.error is None and data.server.address == ("93.184.216.34", 443)
    private = _guard({"passthrough_private": True})
    data = _connect(("localhost", 6379))
    await private.server_connect(data)
    assert data.server.error is None and data.server.address[0] in ("127.0.0.1", "::1")


async def test_the_relay_and_the_reverse_listener_are_not_passthrough():
    guard = _guard({"passthrough": False})
    relay = _connect(("127.0.0.1", RELAY))
    await guard.server_connect(relay)
    assert relay.server.error is None
    reverse = _connect(("127.0.0.1", 5555), REVERSE)  # the emulator in the tests, say
    await guard.server_connect(reverse)
    assert reverse.server.error is None


async def test_passthrough_false_refuses_every_host_it_is_asked_for():
    guard = _guard({"passthrough": False})
    data = _connect(("93.184.216.34", 443))
    await guard.server_connect(data)
    assert "server.passthrough is false" in (data.server.error or "")
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = REGULAR
    flow.request.url = "http://example.com/"
    context(flow).passthrough = True
    await guard.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 403
    assert flow.response.json()["error"]["code"] == "destination_refused"


async def test_a_plain_request_to_loopback_gets_403_before_anything_is_dialled():
    guard = _guard()
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = REGULAR
    flow.request.url = "http://localhost:6379/"
    context(flow).passthrough = True
    await guard.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 403
    assert "loopback" in flow.response.json()["error"]["message"]
    ours = tflow.tflow()  # not passthrough: the router's own request
    ours.client_conn.proxy_mode = REGULAR
    ours.request.url = "https://api.openai.com/v1/models"
    await guard.requestheaders(ours)
    assert ours.response is None


def _connect_flow(host: str, port: int = 443, mode: ProxyMode = REGULAR):
    flow = tflow.tflow()
    flow.response = None
    flow.client_conn.proxy_mode = mode
    flow.request.method, flow.request.host, flow.request.port = "CONNECT", host, port
    return flow


async def test_a_tunnel_is_checked_when_it_is_asked_for():
    guard = _guard()
    loopback, unresolved = _connect_flow("localhost", 6379), _connect_flow("no-such-host.invalid")
    for flow in (loopback, unresolved):
        await guard.http_connect(flow)
    assert loopback.response.status_code == 403 and "loopback" in loopback.response.json()["error"]["message"]
    # Refused at once: mitmproxy would otherwise accept the tunnel, then close it.
    assert unresolved.response.status_code == 502
    assert "could not resolve no-such-host.invalid" in unresolved.response.json()["error"]["message"]
    intercepted, reverse = _connect_flow("api.openai.com"), _connect_flow("localhost", 6379, REVERSE)
    for flow in (intercepted, reverse):
        await guard.http_connect(flow)
        assert flow.response is None  # the router serves it / not the proxy listener


async def test_when_checking_fails_the_connection_is_refused(monkeypatch):
    from hpn_router.addons import passthrough

    async def broken(host, port):
        raise RuntimeError("resolver bug")

    monkeypatch.setattr(passthrough, "resolve", broken)
    data = _connect(("93.184.216.34", 443))
    await _guard().server_connect(data)
    assert "could not be checked" in (data.server.error or "")


async def test_a_name_with_no_addresses_is_unresolved(monkeypatch):
    from hpn_router.addons import passthrough

    async def nothing(host, port):
        return []

    monkeypatch.setattr(passthrough, "resolve", nothing)
    data = _connect(("empty.example", 443))
    await _guard().server_connect(data)
    assert "could not be resolved" in (data.server.error or "")


def test_the_listeners_own_ports_skip_a_mode_mitmproxy_would_refuse():
    guard = _guard()
    with taddons.context(guard) as tctx:
        tctx.configure(guard, mode=["regular@127.0.0.1:8888", "nonsense:mode", "reverse:https://x.example@0.0.0.0:9090"])
    assert {8888, 9090} <= guard.listener_ports and "127.0.0.1" in guard.listener_hosts
