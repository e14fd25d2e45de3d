"""Translation: hands each client request to the translator of its endpoint.

The translators (ChatTranslation, Embeddings, ModelsEndpoint, NativePassthrough) each know one
endpoint; this addon owns what they share: which flows are theirs, OpenAI-format answers to
Gemini's errors, and catching failures so no hook raises. One addon also means mitmproxy
calls one hook per event instead of four (hook dispatch is most of a proxy's CPU per request:
see README "Performance").

A translator has `translate_request(flow, config)` and, where it applies,
`translate_response(flow, config)` (a 200 from Gemini, or a relayed stream that has ended),
`start_stream(flow, config)` (a relayed 200 stream, before its first byte) and `apply(config)`
(a new config arrived). `passes_errors = True` hands Gemini's own
error bodies through (the native API) instead of mapping them to OpenAI's format.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.answers import answer_error, answer_exception, is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.core.upstream_errors import upstream_error_to_openai


class Translation:
    def __init__(self, by_route: dict[str, Any]) -> None:
        self.by_route = by_route
        self.translators = list(dict.fromkeys(by_route.values()))  # each once, in order
        self.config: RouterConfig | None = None

    def apply(self, config: RouterConfig) -> None:
        self.config = config
        for translator in self.translators:
            if hasattr(translator, "apply"):
                translator.apply(config)

    def request(self, flow: http.HTTPFlow) -> None:
        translator = self.by_route.get(context(flow).route)  # type: ignore[arg-type]
        # Without a config Endpoints has already answered (is_client_flow is then False).
        if translator is None or not is_client_flow(flow) or self.config is None:
            return
        try:
            translator.translate_request(flow, self.config)
        except Exception as e:
            answer_exception(flow, e, "translate the request")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        translator = self._answered_by_gemini(flow)
        if translator is None or not context(flow).relayed or flow.response.status_code != 200:  # type: ignore[union-attr]
            return
        if start := getattr(translator, "start_stream", None):
            start(flow, self.config)

    def response(self, flow: http.HTTPFlow) -> None:
        translator = self._answered_by_gemini(flow)
        if translator is None:
            return
        assert flow.response is not None
        try:
            if flow.response.status_code != 200 and not getattr(translator, "passes_errors", False):
                provider = context(flow).upstream.provider if context(flow).upstream else "gemini"  # type: ignore[union-attr]
                answer_error(flow, upstream_error_to_openai(provider, flow.response.status_code, flow.response.raw_content or b""))
            elif translate := getattr(translator, "translate_response", None):
                translate(flow, self.config)
        except Exception as e:
            answer_exception(flow, e, "translate Gemini's answer")

    def _answered_by_gemini(self, flow: http.HTTPFlow) -> Any:
        """The translator of a flow whose response came from Gemini (not the router's own
        answer, and not one of the recorded attempt flows)."""
        ctx = context(flow)
        if flow.response is None or ctx.local or meta.is_attempt(flow) or self.config is None:
            return None
        return self.by_route.get(ctx.route)  # type: ignore[arg-type]
