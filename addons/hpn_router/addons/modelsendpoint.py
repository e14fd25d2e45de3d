"""ModelsEndpoint: `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list format.

The list is Gemini's live model list (fetched through KeyRouting with a pool key) plus the
configured aliases, cached for a few minutes so model pickers don't spend quota.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from mitmproxy import http

from hpn_router import meta
from hpn_router.addons.answers import answer_error, answer_json, rewrite_request, upstream_plan
from hpn_router.config import RouterConfig
from hpn_router.core.model_list import find_model, gemini_models_to_openai
from hpn_router.errors import NotFoundError
from hpn_router.routes import match

CACHE_SECONDS = 300.0


class ModelsEndpoint:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._listing: dict | None = None
        self._fetched_at = 0.0

    def apply(self, config: RouterConfig) -> None:
        self._listing = None  # aliases may have changed

    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        flow.metadata[meta.MODEL_ID] = match(flow.request.method, flow.request.path).model
        if self._listing is not None and self.clock() - self._fetched_at < CACHE_SECONDS:
            self._answer(flow, self._listing)
            return
        path = "/v1beta/models"
        flow.metadata[meta.UPSTREAM] = upstream_plan("GET", path, "pageSize=1000", stream=False, model="models.list")
        rewrite_request(flow, "GET", f"{path}?pageSize=1000", b"")

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        models = json.loads(flow.response.raw_content or b"{}").get("models") or []
        aliases = config.models
        self._listing, self._fetched_at = gemini_models_to_openai(models, aliases), self.clock()
        self._answer(flow, self._listing)

    def _answer(self, flow: http.HTTPFlow, listing: dict) -> None:
        model_id = flow.metadata.get(meta.MODEL_ID)
        if model_id is None:
            answer_json(flow, 200, listing)
        elif (entry := find_model(listing, model_id)) is not None:
            answer_json(flow, 200, entry)
        else:
            answer_error(flow, NotFoundError(f"The model '{model_id}' does not exist.", param="model", code="model_not_found"))
