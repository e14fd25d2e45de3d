"""Timeouts: slow or idle client connections are closed instead of held for ever.

mitmproxy closes a client connection only after 10 minutes without a single byte, so a
client sending one header byte a second (slowloris) holds a connection, and its memory,
indefinitely. This addon adds:
- `server.header_timeout_seconds`: a new connection (or a tunnel just opened to a host the
  router serves) must finish its request headers within this;
- `server.idle_timeout_seconds`: a keep-alive connection whose requests are all answered
  must finish its next request's headers within this, else it is closed.
A request in progress (a long upload or a long stream) has no deadline. Passthrough tunnels
and WebSockets are not the router's: only mitmproxy's own idle timeout applies to them.

One periodic task (started in `running`, cancelled in `done`) closes late connections the
way mitmproxy's own idle watchdog does: by cancelling the connection's handler task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from loguru import logger
from mitmproxy import connection, ctx, http

from hpn_router.addons.interception import router_serves
from hpn_router.config import DEFAULT_INTERCEPT_HOSTS, RouterConfig, ServerConfig
from hpn_router.core.deadlines import ConnectionDeadlines
from hpn_router.edge import frontconnection

TICK_SECONDS = 0.5  # how often deadlines are checked: a late connection lives at most this much longer


class Timeouts:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        defaults = ServerConfig()
        self.deadlines = ConnectionDeadlines(defaults.header_timeout_seconds, defaults.idle_timeout_seconds)
        self.intercepted = frozenset(DEFAULT_INTERCEPT_HOSTS)
        self._task: asyncio.Task[None] | None = None

    def apply(self, config: RouterConfig) -> None:
        # New deadlines use the new values; the ones already set stay.
        self.deadlines.header_timeout = config.server.header_timeout_seconds
        self.deadlines.idle_timeout = config.server.idle_timeout_seconds
        self.intercepted = frozenset(config.intercept_hosts)

    def running(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="hpn client timeouts")

    async def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def client_connected(self, client: connection.Client) -> None:
        if client.transport_protocol == "tcp":  # UDP (HTTP/3) has mitmproxy's own 20 s timeout
            self.deadlines.connected(client.id, self.clock())

    def client_disconnected(self, client: connection.Client) -> None:
        self.deadlines.forget(client.id)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.deadlines.request_started(flow.client_conn.id, flow.id)

    def response(self, flow: http.HTTPFlow) -> None:
        self.deadlines.request_finished(flow.client_conn.id, flow.id, self.clock())

    def error(self, flow: http.HTTPFlow) -> None:
        self.deadlines.request_finished(flow.client_conn.id, flow.id, self.clock())

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self.deadlines.request_started(flow.client_conn.id, flow.id)

    def http_connected(self, flow: http.HTTPFlow) -> None:
        conn = flow.client_conn.id
        if router_serves(flow.client_conn.proxy_mode, flow.request.host, self.intercepted):
            self.deadlines.request_finished(conn, flow.id, self.clock())
            self.deadlines.awaiting_headers(conn, self.clock())  # TLS, then the first request
        else:
            self.deadlines.forget(conn)  # a passthrough tunnel: bytes the router never reads

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        self.deadlines.request_finished(flow.client_conn.id, flow.id, self.clock())

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        self.deadlines.forget(flow.client_conn.id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                for conn, reason in self.deadlines.expired(self.clock()):
                    _close(conn, reason)
            except Exception as e:  # the watch must outlive any one failure
                logger.opt(exception=e).error("Closing a late client connection failed")


def _close(conn: str, reason: str) -> None:
    """Close a client connection as mitmproxy's idle watchdog does (cancel its handler task,
    which closes the socket and runs client_disconnected). Proxyserver.connections maps the
    client's id to its ConnectionHandler for every live TCP connection."""
    if (front := frontconnection.OPEN_CONNECTIONS.get(conn)) is not None:  # the lean runner's reverse port
        logger.bind(event="client_timeout", reason=reason, client=_peer(front.client)).info("Closed a client connection: {}", reason)
        front.close(reason)
        return
    proxyserver = ctx.master.addons.get("proxyserver")
    handler = proxyserver.connections.get(conn) if proxyserver is not None else None
    if handler is None:
        return
    io = handler.transports.get(handler.client)
    if io is None or io.handler is None:
        return
    logger.bind(event="client_timeout", reason=reason, client=_peer(handler.client)).info("Closed a client connection: {}", reason)
    io.handler.cancel(reason)


def _peer(client: connection.Client) -> str:
    host, port = (client.peername or ("?", 0))[:2]
    return f"{host}:{port}"
