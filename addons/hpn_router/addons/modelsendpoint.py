"""ModelsEndpoint: `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list format, or in
Gemini's own for Google's clients.

The list is every provider's live model list (each provider with keys in the pool, asked at
once through KeyRouting with a pool key of its own; each list read into the neutral ModelInfo
list by its provider's reader, `MODEL_SOURCES`) plus the configured aliases
(core/model/catalog.py), written in OpenAI's shape by core/inbound/openai_models.py, each entry
`owned_by` its maker (`google`, `mistralai`). A provider that fails to answer is left out of
that answer, and the list is then not cached (the next request asks again); a full list is
cached for a few minutes so model pickers don't spend quota. A request carrying
`anthropic-version` (Anthropic's SDKs, Claude Code) gets Anthropic's list shape
(core/inbound/anthropic_models.py). google-genai told
`api_version="v1"` lists and gets models on these same paths: a request carrying Google's
headers (`x-goog-api-key`, `x-goog-api-client`, google-genai's user agent, or `?key=`) gets
Gemini's pages and model resources from the same cached list, and Gemini's error bodies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mitmproxy import http

from hpn_router.addons.answers import answer_error, answer_json, anthropic_client, rewrite_request
from hpn_router.addons.flowcontext import GeminiListing, UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.errors import InvalidRequestError, NotFoundError
from hpn_router.core.inbound.anthropic_models import anthropic_model_list, find_anthropic_model
from hpn_router.core.inbound.openai_models import find_model, openai_model_list
from hpn_router.core.model.catalog import ModelInfo, listed_models
from hpn_router.core.model.routing import Provider, bare_name
from hpn_router.core.providers.anthropic.models import PAGE_QUERY, next_page_query
from hpn_router.core.providers.anthropic.models import served_models as anthropic_served_models
from hpn_router.core.providers.gemini.models import (
    find_gemini_model,
    gemini_models_page,
    served_models,
    wants_gemini_shape,
)
from hpn_router.core.providers.mistral.models import served_models as mistral_served_models
from hpn_router.core.routes import match

CACHE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where a provider lists its models, and how its list reads as ModelInfo (pure).
    `next_page`: a paged list's next query from a page's body; `read` then gets the pages' list."""

    path: str
    query: str
    read: Callable[[Any], list[ModelInfo]]
    next_page: Callable[[bytes], str | None] | None = None


def _gemini_models(listing: Any) -> list[ModelInfo]:
    models = listing.get("models") if isinstance(listing, dict) else None
    return served_models(models if isinstance(models, list) else [])


# One entry per provider, in listing order: a provider joins the list with one line here.
MODEL_SOURCES: dict[str, ModelSource] = {
    Provider.GEMINI: ModelSource("/v1beta/models", "pageSize=1000", _gemini_models),
    Provider.MISTRAL: ModelSource("/v1/models", "", mistral_served_models),
    Provider.ANTHROPIC: ModelSource("/v1/models", PAGE_QUERY, anthropic_served_models, next_page_query),
}


class ModelsEndpoint:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._listing: dict | None = None
        self._models: list[ModelInfo] = []  # what the listing lists, for Anthropic's shape
        self._gemini_models: list[dict] = []  # Gemini's own resources, for Google's clients
        self._fetched_at = 0.0

    def apply(self, config: RouterConfig) -> None:
        self._listing = None  # aliases may have changed

    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        ctx = context(flow)
        ctx.model_id = match(flow.request.method, flow.request.path).model
        headers, query = flow.request.headers, flow.request.query
        if wants_gemini_shape(
            goog_api_key=headers.get("x-goog-api-key"),
            goog_api_client=headers.get("x-goog-api-client"),
            user_agent=headers.get("user-agent"),
            query_key=query.get("key"),
        ):
            ctx.gemini_listing = GeminiListing(page_size=query.get("pageSize"), page_token=query.get("pageToken"))
        if self._listing is not None and self.clock() - self._fetched_at < CACHE_SECONDS:
            self._answer(flow)
            return
        parts = tuple(
            UpstreamPlan("GET", source.path, source.query, stream=False, model="models.list", provider=provider, next_page=source.next_page)
            for provider, source in MODEL_SOURCES.items()
            if config.has_keys_for(provider)
        )
        ctx.upstream = UpstreamPlan("GET", "/v1/models", "", stream=False, model="models.list", provider=parts[0].provider, parts=parts)
        # What mitmweb shows: the first provider's request; KeyRouting sends one per part.
        rewrite_request(flow, "GET", f"{parts[0].path}?{parts[0].query}" if parts[0].query else parts[0].path, b"")

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        answers = json.loads(flow.response.raw_content or b"{}")  # {provider: its list}, the ones that answered
        answers = answers if isinstance(answers, dict) else {}
        listed = [model for provider, source in MODEL_SOURCES.items() if provider in answers for model in source.read(answers[provider])]
        self._models = listed_models(listed, config.models)
        self._listing = openai_model_list(self._models)
        gemini = answers.get(Provider.GEMINI)
        models = gemini.get("models") if isinstance(gemini, dict) else None
        self._gemini_models = [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []
        plan = context(flow).upstream
        complete = plan is not None and all(part.provider in answers for part in plan.parts)
        # A list missing a provider that failed is answered, not kept: the next request asks again.
        self._fetched_at = self.clock() if complete else self.clock() - CACHE_SECONDS
        self._answer(flow)

    def _answer(self, flow: http.HTTPFlow) -> None:
        ctx = context(flow)
        if ctx.gemini_listing is not None:
            self._answer_in_geminis_shape(flow, ctx.gemini_listing)
            return
        assert self._listing is not None
        model_id = ctx.model_id
        if anthropic_client(flow):
            self._answer_in_anthropics_shape(flow, model_id)
        elif model_id is None:
            answer_json(flow, 200, self._listing)
        elif (entry := find_model(self._listing, model_id)) is not None:
            answer_json(flow, 200, entry)
        else:
            answer_error(flow, NotFoundError(f"The model '{model_id}' does not exist.", param="model", code="model_not_found"))

    def _answer_in_anthropics_shape(self, flow: http.HTTPFlow, model_id: str | None) -> None:
        if model_id is None:
            answer_json(flow, 200, anthropic_model_list(self._models))
        elif (entry := find_anthropic_model(self._models, model_id)) is not None:
            answer_json(flow, 200, entry)
        else:
            answer_error(flow, NotFoundError(f"model: {model_id}", param="model", code="model_not_found"))  # Anthropic's wording

    def _answer_in_geminis_shape(self, flow: http.HTTPFlow, native: GeminiListing) -> None:
        model_id = context(flow).model_id
        if model_id is None:
            try:
                page = gemini_models_page(self._gemini_models, page_size=native.page_size, page_token=native.page_token)
            except ValueError as e:
                answer_error(flow, InvalidRequestError(str(e)))  # in Google's format: the flow is a Google listing
                return
            answer_json(flow, 200, page)
        elif (found := find_gemini_model(self._gemini_models, model_id)) is not None:
            answer_json(flow, 200, found)
        else:
            answer_error(flow, NotFoundError(f"models/{bare_name(model_id)} is not found."))
