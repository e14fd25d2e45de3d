"""Translation: hands each client request to the translator of its endpoint.

The translators (ChatTranslation, Embeddings, ModelsEndpoint, NativePassthrough) each keep
to one endpoint and work as addons on their own; this addon dispatches to the one a flow's
route names, so mitmproxy calls one hook per event instead of four (hook dispatch is most
of a proxy's CPU per request: see README "Performance").
"""

from __future__ import annotations

from typing import Any

from mitmproxy import http

from hpn_router import meta
from hpn_router.config import RouterConfig


class Translation:
    def __init__(self, by_route: dict[str, Any]) -> None:
        self.by_route = by_route
        self.translators = list(dict.fromkeys(by_route.values()))  # each once, in order

    def apply(self, config: RouterConfig) -> None:
        for translator in self.translators:
            if hasattr(translator, "apply"):
                translator.apply(config)

    def _for(self, flow: http.HTTPFlow, hook: str) -> Any:
        translator = self.by_route.get(flow.metadata.get(meta.ROUTE))  # type: ignore[arg-type]
        return getattr(translator, hook, None)

    def request(self, flow: http.HTTPFlow) -> None:
        if handler := self._for(flow, "request"):
            handler(flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if handler := self._for(flow, "responseheaders"):
            handler(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        if handler := self._for(flow, "response"):
            handler(flow)
