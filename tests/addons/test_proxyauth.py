"""ProxyClientAuth: client tokens on the proxy listener, and no open proxy beyond loopback."""

from __future__ import annotations

import base64

import pytest
from hpn_router.addons.proxyauth import ProxyClientAuth, proxy_listen_hosts
from hpn_router.config import parse_config
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

TOKEN = "proxy-client-token-aaaaaaaa"
REGULAR = ProxyMode.parse("regular@127.0.0.1:8888")
REVERSE = ProxyMode.parse("reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080")
KEYS = {"key_pool": {"keys": [{"name": "k", "key": "AIzaK"}]}}


def _addon(server: dict | None = None) -> ProxyClientAuth:
    addon = ProxyClientAuth()
    addon.apply(parse_config({**KEYS, "server": server or {}}, {}))
    return addon


def _flow(mode: ProxyMode = REGULAR, method: str = "GET", proxy_authorization: str | None = None):
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = mode
    flow.request.method = method
    if proxy_authorization is not None:
        flow.request.headers["Proxy-Authorization"] = proxy_authorization
    return flow


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"hpn:{password}".encode()).decode()


def test_a_tunnel_with_the_token_authenticates_the_requests_inside_it():
    addon = _addon({"client_tokens": [TOKEN]})
    connect = _flow(method="CONNECT", proxy_authorization=basic(TOKEN))
    addon.http_connect(connect)
    assert connect.response is None and "proxy-authorization" not in connect.request.headers
    inside = _flow()
    inside.client_conn = connect.client_conn
    addon.requestheaders(inside)
    assert inside.response is None
    addon.client_disconnected(connect.client_conn)
    again = _flow()
    again.client_conn = connect.client_conn
    addon.requestheaders(again)
    assert again.response is not None and again.response.status_code == 407


@pytest.mark.parametrize("header", [None, basic("wrong-token-aaaaaaaaaa"), f"Bearer {TOKEN}", "Basic \udcff\udcfe"])
def test_without_a_valid_token_the_answer_is_407_and_the_header_is_gone(header):
    addon = _addon({"client_tokens": [TOKEN]})
    connect, plain = _flow(method="CONNECT", proxy_authorization=header), _flow(proxy_authorization=header)
    for flow, hook in ((connect, addon.http_connect), (plain, addon.requestheaders)):
        hook(flow)
        assert flow.response is not None and flow.response.status_code == 407
        assert flow.response.headers["proxy-authenticate"] == 'Basic realm="HPN Router"'
        assert flow.response.json()["error"]["code"] == "proxy_authentication_required"
        assert "proxy-authorization" not in flow.request.headers


def test_plain_requests_carry_the_token_each_time():
    addon = _addon({"client_tokens": [TOKEN]})
    first = _flow(proxy_authorization=basic(TOKEN))
    addon.requestheaders(first)
    assert first.response is None and "proxy-authorization" not in first.request.headers
    second = _flow()
    second.client_conn = first.client_conn
    addon.requestheaders(second)
    assert second.response is not None and second.response.status_code == 407


def test_the_reverse_listener_is_left_alone_and_without_tokens_nothing_is_demanded():
    addon = _addon({"client_tokens": [TOKEN]})
    reverse = _flow(REVERSE, proxy_authorization="Basic whatever")
    addon.requestheaders(reverse)
    assert reverse.response is None and "proxy-authorization" in reverse.request.headers
    open_addon = _addon()
    flow = _flow(proxy_authorization=basic("anything"))
    open_addon.requestheaders(flow)
    assert flow.response is None and "proxy-authorization" not in flow.request.headers  # never forwarded


@pytest.mark.parametrize(
    "modes,listen_host,hosts",
    [
        (["regular@127.0.0.1:8888", "reverse:https://x.test@0.0.0.0:8080"], "", ["127.0.0.1"]),
        (["regular@8888"], "", [""]),
        (["regular"], "10.0.0.2", ["10.0.0.2"]),
        (["reverse:https://x.test@0.0.0.0:8080"], "", []),
        (["upstream:http://corp:3128@0.0.0.0:8888"], "", []),
    ],
)
def test_proxy_listen_hosts(modes, listen_host, hosts):
    assert proxy_listen_hosts(modes, listen_host) == hosts


@pytest.mark.parametrize(
    "mode,server,closed",
    [
        ("regular@0.0.0.0:8888", {}, True),
        ("regular@8888", {}, True),
        ("regular@127.0.0.1:8888", {}, False),
        ("regular@0.0.0.0:8888", {"client_tokens": [TOKEN]}, False),
        ("regular@0.0.0.0:8888", {"proxy_open": True}, False),
        ("reverse:https://x.test@0.0.0.0:8080", {}, False),  # a reverse-only router may listen anywhere
    ],
)
def test_an_open_proxy_beyond_loopback_is_a_start_up_error_and_refuses_everything(mode, server, closed, caplog):
    addon = _addon(server)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=[mode])
        assert (addon.closed is not None) is closed
        assert ("would be an open proxy" in caplog.text) is closed
        if closed:
            flow = _flow(ProxyMode.parse(mode), method="CONNECT", proxy_authorization=basic(TOKEN))
            addon.http_connect(flow)
            assert flow.response is not None and flow.response.status_code == 403
            assert "server.proxy_open" in flow.response.json()["error"]["message"]


def test_a_reload_that_drops_the_tokens_closes_the_exposed_listener():
    addon = _addon({"client_tokens": [TOKEN]})
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mode=["regular@0.0.0.0:8888"])
        assert addon.closed is None
        addon.apply(parse_config(KEYS, {}))
        assert addon.closed is not None
