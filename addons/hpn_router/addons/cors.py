"""CORS for browser apps: preflights answered, answers readable by the origins in
`server.cors_origins` (none by default: browsers then refuse every cross-origin call).

Two addons around the rest, sharing one `Cors` (router.py wires them):

* `CorsPreflight` runs before Access in `request`: a preflight (`OPTIONS` with `Origin` and
  `Access-Control-Request-Method`) from an allowed origin gets `204` with the path's methods,
  the request headers asked for and a max age. Browsers never send a token with a preflight,
  so it needs none. A preflight from any other origin is not answered here: it gets the
  router's usual answer (405, or 401 with client tokens), which tells the browser no.
* `CorsHeaders` runs after the translation: every answer to an allowed origin (errors,
  cache hits and streams included: a stream's headers leave after `responseheaders`) gets
  `Access-Control-Allow-Origin`, `Vary: Origin` and `Access-Control-Expose-Headers` (the
  router's own headers, such as `X-HPN-Saved-USD` and `Retry-After`).

Flows for hosts the router does not serve (proxy mode, PASSTHROUGH) and recorded attempt flows
are left alone. The decisions live in core/cors.py.

Usage:
    cors = Cors()
    addons = [Settings(consumers=[..., cors]), Interception(), CorsPreflight(cors), Access(), ...,
              Translation(...), KeyRouting(state), ..., CorsHeaders(cors), ...]
"""

from __future__ import annotations

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.answers import is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.core.cors import ANY, allow_origin, answer_headers, is_preflight, preflight_headers
from hpn_router.core.routes import allowed_methods


class Cors:
    """The allowed origins, from the config."""

    def __init__(self) -> None:
        self.origins: tuple[str, ...] = ()

    def apply(self, config: RouterConfig) -> None:
        self.origins = config.server.cors_origins

    def allow(self, flow: http.HTTPFlow) -> str | None:
        return allow_origin(flow.request.headers.get("origin"), self.origins) if self.origins else None


class CorsPreflight:
    def __init__(self, cors: Cors) -> None:
        self.cors = cors

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            if flow.request.method == "OPTIONS" and is_client_flow(flow):
                self._answer(flow)
        except Exception:
            logger.exception("CORS preflight failed")  # the router's usual answer follows

    def _answer(self, flow: http.HTTPFlow) -> None:
        headers = flow.request.headers
        requested = headers.get("access-control-request-method", "").strip().upper()
        allow = self.cors.allow(flow)
        if allow is None or not is_preflight(flow.request.method, headers.get("origin"), requested):
            return
        # An unknown path still gets its preflight: the page then reads the 404 that follows.
        methods = allowed_methods(flow.request.path) or (requested,)
        flow.response = http.Response.make(204, b"", preflight_headers(allow, methods, headers.get("access-control-request-headers")))
        context(flow).local = True


class CorsHeaders:
    def __init__(self, cors: Cors) -> None:
        self.cors = cors

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._add(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._add(flow)

    def _add(self, flow: http.HTTPFlow) -> None:
        try:
            if flow.response is None or context(flow).passthrough or meta.is_attempt(flow):
                return
            allow = self.cors.allow(flow)
            if allow is None:
                return
            response_headers = flow.response.headers
            for name, value in answer_headers(allow).items():
                if name not in response_headers:  # a preflight's own answer already has them
                    response_headers[name] = value
            if allow != ANY:
                vary = [v.strip() for v in response_headers.get_all("vary") for v in v.split(",") if v.strip()]
                if "origin" not in {v.lower() for v in vary}:
                    response_headers["vary"] = ", ".join([*vary, "Origin"])
        except Exception:
            logger.exception("could not add the CORS headers")
