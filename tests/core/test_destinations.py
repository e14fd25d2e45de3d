from __future__ import annotations

import pytest
from hpn_router.core.destinations import is_loopback_host, open_proxy_refusal, passthrough_refusal

OWN = frozenset({8080, 8888, 8081, 41234})


@pytest.mark.parametrize(
    "address,port,refused_because",
    [
        ("93.184.216.34", 443, None),
        ("2606:4700::6810:85e5", 443, None),
        ("8.8.8.8", 8888, None),  # a public host's 8888 is not ours
        ("127.0.0.1", 6379, "loopback"),
        ("127.8.9.10", 80, "loopback"),
        ("::1", 5432, "loopback"),
        ("::ffff:127.0.0.1", 5432, "loopback"),
        ("0.0.0.0", 80, "unspecified"),
        ("::", 80, "unspecified"),
        ("10.1.2.3", 80, "private"),
        ("172.16.0.1", 80, "private"),
        ("172.31.255.254", 80, "private"),
        ("192.168.1.1", 80, "private"),
        ("fd12:3456::1", 80, "private"),
        ("fc00::1", 80, "private"),
        ("169.254.169.254", 80, "link-local"),
        ("169.254.1.1", 80, "link-local"),
        ("fe80::1", 80, "link-local"),
        ("fe80::1%eth0", 80, "link-local"),
        ("100.64.0.1", 80, "not a public"),
        ("224.0.0.1", 80, "not a public"),
        ("127.0.0.1", 8888, "own ports"),
        ("0.0.0.0", 8080, "own ports"),
        ("::1", 41234, "own ports"),
        ("localhost", 80, "not an IP"),
    ],
)
def test_passthrough_refusal(address, port, refused_because):
    reason = passthrough_refusal(address, port, allow_private=False, own_ports=OWN)
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None and refused_because in reason


@pytest.mark.parametrize(
    "address,port,refused",
    [
        ("127.0.0.1", 6379, False),
        ("10.0.0.8", 5432, False),
        ("169.254.169.254", 80, False),
        ("127.0.0.1", 8081, True),  # mitmweb's UI stays out of reach
        ("127.0.0.1", 41234, True),  # so does the relay
        ("::", 8888, True),
        ("192.0.2.10", 8888, True),  # a listener's own bound address
        ("192.0.2.11", 8888, False),
    ],
)
def test_passthrough_private_still_keeps_the_router_s_own_ports(address, port, refused):
    reason = passthrough_refusal(address, port, allow_private=True, own_ports=OWN, own_hosts=frozenset({"192.0.2.10"}))
    assert (reason is not None) is refused
    if refused:
        assert "own ports" in reason


def test_a_refusal_names_the_setting_that_allows_it():
    assert "server.passthrough_private: true" in (passthrough_refusal("10.0.0.1", 80, allow_private=False, own_ports=OWN) or "")


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.5", False),
        ("router.lan", False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    "host,tokens,proxy_open,refused",
    [
        ("127.0.0.1", False, False, False),
        ("localhost", False, False, False),
        ("0.0.0.0", False, False, True),
        ("", False, False, True),
        ("192.168.1.5", False, False, True),
        ("0.0.0.0", True, False, False),
        ("0.0.0.0", False, True, False),
    ],
)
def test_open_proxy_refusal(host, tokens, proxy_open, refused):
    reason = open_proxy_refusal(host, has_client_tokens=tokens, proxy_open=proxy_open)
    assert (reason is not None) is refused
    if refused:
        assert reason.startswith("server.proxy_open:") and "HPN_CLIENT_TOKENS" in reason and "server.proxy_open: true" in reason
