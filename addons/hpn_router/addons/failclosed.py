"""FailClosed: nothing a client sends reaches an upstream unless the router routed it.

Usage (router.py):
    fail_closed = FailClosed(relay)     # the StreamRelay KeyRouting parks streams in
    addons = [Pipeline([settings, log_redaction, interception, fail_closed, access, ...])]

mitmproxy forwards a request to its target (the reverse target, or the host a proxy client
named) unless an addon answered it, and an addon whose hook raises makes mitmproxy skip that
hook in every later addon. Two nets keep such a request from leaving:

- `FailClosed.requestheaders`, before any other router addon sees the request, points every
  flow the router serves at the in-process relay without a relay token. The router's own
  answers (`flow.response` set in `request`) never connect; KeyRouting gives a stream the
  relay's one-time token. Anything else reaches the relay, which answers the router's
  OpenAI-format 500 and logs it. Proxy-mode requests for hosts the router does not intercept
  (PASSTHROUGH, marked by Interception just before) are left alone.
- The Pipeline (pipeline.py) guards every hook of every router addon with `hook_failed`: an
  exception is logged (redacted) and the flow gets the router's error, so one addon's bug cannot
  skip the later addons (redaction among them). A failed `server_connect` refuses the
  connection. Start-up and shutdown hooks log through stdlib logging, which makes mitmdump exit
  if start-up failed.

Only where mitmproxy connects changes (`flow.request.host`, `port`, `scheme`); the Host header
stays, so after this addon read the client's host from `flow.request.pretty_host` (or
the flow context's `target`). When the flow ends the target the client addressed comes back (a relayed
stream keeps the relay's, as before), so mitmweb and saved flows show what they did before.
"""

from __future__ import annotations

import logging
from typing import Any

from loguru import logger
from mitmproxy import http
from mitmproxy.proxy import server_hooks

from hpn_router.addons.answers import answer_error, is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.core.errors import router_failed
from hpn_router.edge.relay import REFUSED_HEADER, StreamRelay
from hpn_router.edge.relayrequest import TOKEN_HEADER

LIFECYCLE = frozenset({"load", "configure", "running", "done"})


class FailClosed:
    def __init__(self, relay: StreamRelay) -> None:
        self.relay = relay

    async def running(self) -> None:
        await self.relay.start()  # before the first request (KeyRouting starts it later too)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not is_client_flow(flow):
            return
        flow.request.headers.pop(TOKEN_HEADER, None)  # only KeyRouting hands out relay tokens
        if not self.relay.port:
            answer_error(flow, router_failed())  # not started yet (or stopped): nowhere safe to send it
            return
        context(flow).target = (flow.request.scheme, flow.request.host, flow.request.port)
        _connect_to(flow.request, "http", "127.0.0.1", self.relay.port)

    def response(self, flow: http.HTTPFlow) -> None:
        ctx = context(flow)
        if ctx.passthrough or flow.response is None:
            return
        if ctx.failed or flow.response.headers.get(REFUSED_HEADER):
            # The relay's refusal, or an answer a failed response-side hook left half-made:
            # the router's own error, final (no translation).
            answer_error(flow, router_failed())
        self._restore_target(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._restore_target(flow)

    def _restore_target(self, flow: http.HTTPFlow) -> None:
        ctx = context(flow)
        target = ctx.target
        if target and not ctx.relayed:
            _connect_to(flow.request, *target)


def _connect_to(request: http.Request, scheme: str, host: str, port: int) -> None:
    """Where mitmproxy connects, only: unlike the setters, the Host header (and so
    `pretty_host`, mitmweb's URL) keeps what the client sent."""
    request.data.scheme, request.data.host, request.data.port = scheme.encode(), host, port


def hook_failed(addon: Any, hook: str, args: tuple[Any, ...], error: Exception) -> None:
    """Log a hook's exception and close what it was handling: a flow gets the router's error,
    a server connection is refused."""
    what = f"{type(addon).__name__}.{hook}"
    if hook in LIFECYCLE:
        logging.getLogger("hpn.guard").error("%s failed", what, exc_info=error)
        return
    logger.opt(exception=error).bind(event="hook_failed", hook=what).error("{} failed; the router answers its own error", what)
    subject = args[0] if args else None
    if isinstance(subject, http.HTTPFlow):
        context(subject).failed = True
        if subject.live and subject.error is None:
            answer_error(subject, router_failed())
    elif isinstance(subject, server_hooks.ServerConnectionHookData) and hook == "server_connect":
        subject.server.error = subject.server.error or f"HPN Router refused this connection: {what} failed"
