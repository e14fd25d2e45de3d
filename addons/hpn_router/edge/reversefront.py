"""ReverseFront: the lean runner's reverse-mode listener. It reads HTTP/1.1 requests itself and
hands each one to the addons as a mitmproxy flow, without mitmproxy's proxy layers.

Why: in reverse mode the router answers every request itself or streams it from its in-process
relay (FailClosed points every flow there), so mitmproxy's layers only carry bytes between the
client and the addons. They were the largest share of a routed request's CPU (its HTTP/1 state
machines, next-layer detection, and for a stream a second connection, to the relay). The front
keeps what the addons and any other `-s` script see:
- the same `HTTPFlow`, `Client` (with the reverse mode) and hooks in mitmproxy's order:
  client_connected, requestheaders, request, responseheaders, response, error, client_disconnected;
- mitmproxy's own HTTP/1 parsing and checks: `read_request_head`, `validate_request` (request
  smuggling), body framing with h11's readers, `body_size_limit` (413), `expect: 100-continue`,
  the Host header rewritten to the target unless `keep_host_header`, block_global through the
  Block addon's client_connected, keep-alive as mitmproxy decides it, a killed flow closing the
  connection without an answer;
- a relayed stream: the front takes the parked upstream response from the relay in-process
  (no socket) and streams it through `flow.response.stream`, as mitmproxy would from the relay.
A connection that starts with TLS (https to this port, trusting mitmproxy's CA) or HTTP/2's
prior-knowledge preface is handed, with what it sent, to mitmproxy's own handler for the mode,
which serves it as before. Regular (proxy) mode, mitmweb and stock mitmdump are untouched;
HPN_FRONT=mitmproxy keeps mitmproxy's own reverse listener in the lean runner.

The pieces: this module listens (FrontedProxyserver gives the runner mitmproxy's listeners
but the reverse ones) and calls the hooks; `frontconnection.py` is one client
connection (bytes in and out, keep-alive, the hand-over); `frontexchange.py` is one request as
a flow, from its head to the last byte of its answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from mitmproxy import ctx, http
from mitmproxy.addons import proxyserver
from mitmproxy.proxy import mode_specs
from mitmproxy.utils import human

from hpn_router.edge.frontconnection import FrontConnection


def serves(mode: mode_specs.ProxyMode) -> bool:
    """The modes the front serves: a reverse proxy to an http(s) target over TCP."""
    return isinstance(mode, mode_specs.ReverseMode) and mode.scheme in ("http", "https")


class ReverseFront:
    def __init__(self, master: Any, *, reuse_port: bool = False) -> None:
        self.master = master
        self.reuse_port = reuse_port  # workers share their listening ports
        self.servers: list[asyncio.Server] = []

    async def listen(self, modes: list[mode_specs.ProxyMode]) -> bool:
        """Start a listener per mode; False (with the reason logged as an error, which makes
        the runner exit at start-up like mitmproxy) when one cannot bind."""
        loop = asyncio.get_running_loop()
        options = self.master.options
        for mode in modes:
            host = mode.listen_host(options.listen_host) or None
            port = mode.listen_port(options.listen_port)
            try:
                server = await loop.create_server(
                    lambda mode=mode: FrontConnection(self, mode), host, port, reuse_port=self.reuse_port or None
                )
            except OSError as e:
                logging.error(f"HPN reverse front: could not listen on {human.format_address((host or '*', port or 0))}: {e}")
                return False
            self.servers.append(server)
            addrs = " and ".join(human.format_address(sock.getsockname()) for sock in server.sockets)
            logging.info(f"{mode.description} listening at {addrs}.")  # mitmproxy's own line, which tools look for
        return True

    async def close(self) -> None:
        """Stop accepting; connections in progress finish."""
        for server in self.servers:
            server.close()
        self.servers.clear()

    @property
    def options(self) -> Any:
        return self.master.options

    def proxyserver(self) -> Any:
        """mitmproxy's Proxyserver addon: the manager of the connections handed over to it."""
        return self.master.addons.get("proxyserver")

    async def client_event(self, hook: Any) -> None:
        """client_connected or client_disconnected, through the addons as mitmproxy calls it."""
        await self.master.addons.handle_lifecycle(hook)

    async def flow_event(self, hook_class: Any, f: http.HTTPFlow) -> None:
        """A flow's hook; a flow an addon intercepted waits until it is resumed, as in mitmproxy."""
        await self.master.addons.handle_lifecycle(hook_class(f))
        await f.wait_for_resume()


class FrontedProxyserver(proxyserver.Proxyserver):
    """The lean runner's Proxyserver: mitmproxy's listeners, except that the reverse-mode ones
    are the ReverseFront's. Keeps the name "proxyserver": addons (Timeouts) and the runner's
    drain look it up by it."""

    name = "proxyserver"

    def __init__(self, front: ReverseFront) -> None:
        super().__init__()
        self.front = front

    async def setup_servers(self) -> bool:
        modes = [mode_specs.ProxyMode.parse(m) for m in ctx.options.mode]
        ours = [m for m in modes if serves(m)]
        started = await self.servers.update([m for m in modes if not serves(m)])
        return await self.front.listen(ours) and started

    def configure(self, updated: set[str]) -> None:
        if "mode" in updated and self.is_running:
            # mitmproxy would start every mode itself, reverse ones included, on ports the
            # front holds: a mode change needs a restart here.
            logging.warning("hpn-router run: a change of `mode` takes effect at the next start")
            updated = updated - {"mode"}
        super().configure(updated)


def front_wanted() -> bool:
    """HPN_FRONT=mitmproxy keeps mitmproxy's own reverse listener (to compare, or to rule the
    front out when something looks wrong)."""
    return os.environ.get("HPN_FRONT", "hpn") != "mitmproxy"
