"""PassthroughGuard: the proxy listener forwards only to public hosts, never into this machine
or its network.

Interception hands every host the router does not intercept through untouched (a TLS tunnel,
or a forwarded plain-HTTP request). This addon decides where such passthrough may go:

- `server.passthrough: false`: nowhere; only the intercepted hosts are served.
- Otherwise not to loopback, private (RFC 1918, IPv6 ULA), link-local (169.254/16, where
  cloud metadata lives; fe80::/10) or unspecified addresses, unless
  `server.passthrough_private: true`; and never to the router's own ports (its listeners,
  relay and mitmweb UI) on this machine.

The decision is made on the resolved address (core/destinations.py), twice:
- per request, in `http_connect` (tunnels) and `requestheaders` (plain HTTP), so the client
  gets a clear 403 before anything is dialled;
- per connection, in `server_connect`, where mitmproxy is about to dial: the address is
  resolved once more, checked, and the connection pinned to the checked IP, so a name that
  resolves elsewhere the second time (DNS rebinding) cannot slip through. A refusal here
  sets the connection's error: mitmproxy answers a plain request with 502 and that error,
  and closes a tunnel; the log says why.
The only connection of a proxy-listener client that is not passthrough is the router's own
relay (streamed answers of intercepted hosts); the per-request check keeps clients from
naming it themselves.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger
from mitmproxy import ctx, http
from mitmproxy.proxy import mode_specs, server_hooks

from hpn_router.addons.answers import answer_error
from hpn_router.addons.flowcontext import context
from hpn_router.addons.interception import router_serves
from hpn_router.addons.proxyauth import is_proxy_listener
from hpn_router.config import DEFAULT_INTERCEPT_HOSTS, RouterConfig
from hpn_router.core.destinations import parse_ip, passthrough_refusal
from hpn_router.core.errors import DestinationRefused, Unresolved

RESOLVE_SECONDS = 10.0
PORT_OPTIONS = ("listen_port", "web_port")  # mitmweb's UI port, when mitmweb runs


@dataclass(frozen=True, slots=True)
class Verdict:
    refusal: str | None = None  # why not, in words
    address: str | None = None  # the checked IP to dial
    unresolved: bool = False


class PassthroughGuard:
    def __init__(self, relay_port: Callable[[], int]) -> None:
        self.relay_port = relay_port  # 0 until the relay runs
        self.passthrough = True
        self.allow_private = False
        self.intercepted = frozenset(DEFAULT_INTERCEPT_HOSTS)
        self.listener_ports: frozenset[int] = frozenset()
        self.listener_hosts: frozenset[str] = frozenset()

    def apply(self, config: RouterConfig) -> None:
        self.passthrough = config.server.passthrough
        self.allow_private = config.server.passthrough_private
        self.intercepted = frozenset(config.intercept_hosts)

    def configure(self, updated: set[str]) -> None:
        if {"mode", "listen_host", *PORT_OPTIONS} & updated:
            ports, hosts = set(), set()
            for spec in ctx.options.mode:
                try:
                    mode = mode_specs.ProxyMode.parse(spec)
                except ValueError:
                    continue
                ports.add(mode.listen_port(ctx.options.listen_port))
                hosts.add(mode.listen_host(ctx.options.listen_host or None))
            web_port = getattr(ctx.options, "web_port", None)
            self.listener_ports = frozenset(p for p in (*ports, web_port) if isinstance(p, int))
            self.listener_hosts = frozenset(str(ip) for ip in map(parse_ip, hosts) if ip is not None)

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        if not is_proxy_listener(flow.client_conn.proxy_mode) or flow.response:
            return
        if router_serves(flow.client_conn.proxy_mode, flow.request.host, self.intercepted):
            return
        await self._check_request(flow, answer_unresolved=True)

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not context(flow).passthrough or flow.response or not is_proxy_listener(flow.client_conn.proxy_mode):
            return
        # A name that does not resolve is left to the connection check, which refuses it.
        await self._check_request(flow, answer_unresolved=False)

    async def _check_request(self, flow: http.HTTPFlow, *, answer_unresolved: bool) -> None:
        host, port = flow.request.host, flow.request.port
        verdict = await self._checked_verdict(host, port)
        if verdict.unresolved:
            if answer_unresolved:  # a tunnel would otherwise be accepted, then closed
                answer_error(flow, Unresolved(f"HPN Router's proxy could not resolve {host}."))
        elif verdict.refusal:
            _log_refusal(host, port, verdict.refusal)
            answer_error(flow, DestinationRefused(f"HPN Router's proxy does not connect to {host}:{port}: {verdict.refusal}."))

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        address = data.server.address
        if data.server.error or not address or not is_proxy_listener(data.client.proxy_mode):
            return
        host, port = address
        if self._is_relay(host, port):
            return
        verdict = await self._checked_verdict(host, port)
        if verdict.address and not verdict.refusal:
            data.server.address = (verdict.address, port)  # dial exactly what was checked
            return
        reason = "could not be resolved" if verdict.unresolved else verdict.refusal
        _log_refusal(host, port, str(reason))
        data.server.error = f"HPN Router's proxy does not connect to {host}:{port}: {reason}"

    async def _checked_verdict(self, host: str, port: int) -> Verdict:
        """The verdict, or a refusal when checking itself failed: fail closed."""
        try:
            return await self.verdict(host, port)
        except Exception:
            logger.exception("passthrough check failed")
            return Verdict(refusal="could not be checked")

    def _is_relay(self, host: str, port: int) -> bool:
        relay = self.relay_port()
        return bool(relay) and port == relay and host == "127.0.0.1"

    async def verdict(self, host: str, port: int) -> Verdict:
        """Whether passthrough may reach host:port, and the IP to dial if so."""
        if not self.passthrough:
            served = ", ".join(sorted(self.intercepted))
            return Verdict(refusal=f"it is not an intercepted host ({served}) and server.passthrough is false")
        try:
            addresses = await resolve(host, port)
        except (TimeoutError, OSError):
            return Verdict(unresolved=True)
        if not addresses:
            return Verdict(unresolved=True)
        own_ports = self.listener_ports | {self.relay_port()}
        for address in addresses:  # mitmproxy may dial any of them: every one must pass
            refusal = passthrough_refusal(
                address, port, allow_private=self.allow_private, own_ports=own_ports, own_hosts=self.listener_hosts
            )
            if refusal:
                return Verdict(refusal=f"{address} {refusal}")
        return Verdict(address=addresses[0])


async def resolve(host: str, port: int) -> list[str]:
    """The IP addresses `host` resolves to (an IP literal resolves to itself), in order."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(loop.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM), RESOLVE_SECONDS)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _log_refusal(host: str, port: int, reason: str) -> None:
    logger.bind(event="passthrough_refused", host=host, port=port).warning("Proxy refused a connection to {}:{}: {}", host, port, reason)
