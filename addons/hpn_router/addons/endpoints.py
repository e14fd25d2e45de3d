"""Endpoints: tells every client request which endpoint it is for, and answers the ones
the router does not serve (unknown paths, wrong methods) with an OpenAI-format 4xx."""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.proxy.mode_specs import ReverseMode

from hpn_router.addons.answers import answer_error, is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.core.errors import MethodNotAllowed, NotFoundError, RouterError
from hpn_router.core.routes import Endpoint, match

SERVED = (
    "/v1/chat/completions, /v1/responses (and /v1/responses/{id}), /v1/messages, /v1/messages/count_tokens,"
    " /v1/embeddings, /v1/models, /v1beta/models/... (Gemini's own API) and /health"
)


class Endpoints:
    def __init__(self) -> None:
        self.config: RouterConfig | None = None

    def apply(self, config: RouterConfig) -> None:
        self.config = config

    def request(self, flow: http.HTTPFlow) -> None:
        if not is_client_flow(flow):
            return
        route = match(flow.request.method, flow.request.path)
        if route.endpoint in (Endpoint.HEALTH, Endpoint.DASHBOARD):
            return  # Health and DashboardEndpoint answer them
        if route.endpoint is Endpoint.METRICS:
            if self.config is not None and not self.config.server.metrics:
                answer_error(flow, NotFoundError("Metrics are off (server.metrics: false)."))
            return  # MetricsEndpoint answers it
        context(flow).route = route.endpoint.value
        if route.endpoint is Endpoint.NOT_FOUND:
            answer_error(flow, NotFoundError(f"{_router(flow)} does not serve {flow.request.path.split('?')[0]}. It serves {SERVED}."))
        elif route.endpoint is Endpoint.METHOD_NOT_ALLOWED:
            path = flow.request.path.split("?")[0]
            message = f"Method {flow.request.method} is not allowed on {path}; use {' or '.join(route.allowed)}."
            answer_error(flow, MethodNotAllowed(message, allowed=route.allowed))
        elif self.config is None:
            answer_error(flow, RouterError("The router has no valid configuration; see its log."))


def _router(flow: http.HTTPFlow) -> str:
    """Who answers: in proxy mode the app believes it talks to the intercepted host."""
    if isinstance(flow.client_conn.proxy_mode, ReverseMode):
        return "HPN Router"
    return f"HPN Router (a Gemini gateway answering for {flow.request.pretty_host})"  # .host names the relay (FailClosed)
