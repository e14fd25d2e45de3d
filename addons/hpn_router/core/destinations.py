"""Where the proxy listener may take a client, and whether it may open at all. Pure.

The proxy listener forwards what the router does not answer (tunnels and plain HTTP to hosts
that are not intercepted). Left open, that makes the router a door into the machine and its
network: the relay, mitmweb's UI, a local database, the cloud metadata service. These rules
decide on the *resolved* address, so a name that points at 127.0.0.1 is refused like
127.0.0.1 itself.

Usage:
    reason = passthrough_refusal("127.0.0.1", 6379, allow_private=False, own_ports=frozenset({8080, 8888}))
    if reason: refuse(f"{host}:{port} {reason}")
"""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def parse_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address as an IP (an IPv4-mapped IPv6 address as the IPv4 one), or None for a name."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_loopback_host(host: str) -> bool:
    """Whether a listen host accepts connections from this machine only ("" means every
    interface, as in mitmproxy's --mode regular@8888)."""
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    ip = parse_ip(host)
    return ip is not None and ip.is_loopback


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes an address internal, in words, or None for a public internet address."""
    if ip.is_unspecified:
        return "an unspecified address (this machine)"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if ip.is_private:  # RFC 1918, IPv6 ULA fc00::/7, and the other special-purpose ranges
        return "a private network address"
    if ip.is_multicast or not ip.is_global:  # shared 100.64/10, reserved, ...
        return "not a public internet address"
    return None


def passthrough_refusal(
    address: str,
    port: int,
    *,
    allow_private: bool,
    own_ports: frozenset[int],
    own_hosts: frozenset[str] = frozenset(),
) -> str | None:
    """Why the proxy listener must not connect a client to `address:port` (a resolved IP),
    or None when it may. `own_ports` are the router's listeners (and relay, UI): never
    reachable through the proxy, even with `allow_private` (server.passthrough_private);
    `own_hosts` are the IPs the listeners are bound to besides loopback."""
    ip = parse_ip(address)
    if ip is None:
        return "is not an IP address"  # callers resolve names first; anything else is refused
    ours = ip.is_loopback or ip.is_unspecified or str(ip) in own_hosts
    if ours and port in own_ports:
        return "is the router itself (one of its own ports)"
    if allow_private:
        return None
    kind = address_kind(ip)
    return None if kind is None else f"is {kind}; set server.passthrough_private: true to allow it"


def open_proxy_refusal(listen_host: str, *, has_client_tokens: bool, proxy_open: bool) -> str | None:
    """Why a proxy listener bound to `listen_host` must not open, or None when it may:
    beyond loopback, without client tokens, it would serve anyone who can reach it."""
    if has_client_tokens or proxy_open or is_loopback_host(listen_host):
        return None
    where = listen_host or "every interface"
    return (
        f"server.proxy_open: the proxy listener on {where} would be an open proxy (anyone who reaches it could "
        "use it to reach any host, this machine's own services included). Set server.client_tokens "
        "(or HPN_CLIENT_TOKENS) so it demands a token, bind it to 127.0.0.1 (server.host), or set "
        "server.proxy_open: true to run an open proxy knowingly"
    )
