"""NativePassthrough: Gemini's own API (`/v1beta/models/...`, `/v1/models/{m}:method`) with
a pool key, so clients of Google's SDK get the pool and failover too.

Whatever key the client sent is dropped; the body goes upstream unchanged and the answer
comes back unchanged (streams included).
"""

from __future__ import annotations

from urllib.parse import urlencode

from mitmproxy import http

from hpn_router.addons.answers import rewrite_request
from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.routes import match


class NativePassthrough:
    passes_errors = True  # a Google SDK expects Google's error bodies

    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        route = match(flow.request.method, flow.request.path)
        stream = route.action == "streamGenerateContent"
        path = flow.request.path.split("?", 1)[0]
        # The client's own `key=` (if any) must not travel on; `alt=sse` must.
        query = _query(flow)
        ctx = context(flow)
        ctx.model = ctx.gemini_model = route.model
        ctx.stream = stream
        ctx.upstream = UpstreamPlan(flow.request.method, path, query, stream=stream, model=route.model or "models.list")
        rewrite_request(flow, flow.request.method, path + (f"?{query}" if query else ""), flow.request.raw_content or b"")

    def start_stream(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        flow.response.stream = True  # Gemini's own SSE, passed through as it arrives


def _query(flow: http.HTTPFlow) -> str:
    return urlencode([(k, v) for k, v in flow.request.query.items(multi=True) if k.lower() != "key"])
