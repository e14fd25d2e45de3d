"""Embeddings: `POST /v1/embeddings` as Gemini `batchEmbedContents` (or Mistral's `/v1/embeddings`
for its models, `mistral-embed`, in batches under its per-request token limit), and back.

The client's body becomes an EmbeddingRequest once (core/inbound/openai_embeddings.py), kept
in the flow's context; Gemini's bodies are made from it and its answers read against it
(core/providers/gemini/embeddings.py). More than 100 inputs go out as several batches
(Gemini's limit); KeyRouting sends them in order with failover each, and the vectors come back
in the client's order. Token-id inputs (LangChain's default) are decoded to text with
cl100k_base, loaded on first use from the file the install ships
(hpn_router.edge.tiktoken_files), never from the network.
"""

from __future__ import annotations

import json

from mitmproxy import http

from hpn_router.addons.answers import (
    parse_json_body,
    rewrite_request,
)
from hpn_router.addons.chat import SERVED_BY_HEADER
from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.errors import InvalidRequest, RouterError
from hpn_router.core.inbound.openai_embeddings import TokenDecoder, embedding_request, openai_embeddings
from hpn_router.core.model.embedding import EmbeddingRequest
from hpn_router.core.model.routing import Provider, route_model
from hpn_router.core.providers.gemini.embeddings import DIMENSIONS, batch_bodies, embedding_answer
from hpn_router.core.providers.mistral.embeddings import batch_bodies as mistral_batch_bodies
from hpn_router.core.providers.mistral.embeddings import dimensions_for as mistral_dimensions
from hpn_router.core.providers.mistral.embeddings import embedding_answer as mistral_embedding_answer
from hpn_router.edge.tiktoken_files import EncodingUnavailable, cl100k_base

MISTRAL_PATH = "/v1/embeddings"


class Embeddings:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        body = parse_json_body(flow)
        asked = body.get("model") if isinstance(body, dict) else None
        # The model picks the provider, whose models say which `dimensions` they can make; `()`:
        # no `claude-*` name goes to Anthropic, which has no embeddings.
        name = asked if isinstance(asked, str) else ""
        target = route_model(name, config.models, config.gemini.default_embedding_model, ())
        dimensions = mistral_dimensions(target.model) if target.provider is Provider.MISTRAL else DIMENSIONS
        request = embedding_request(body, dimensions=dimensions, encoding=_encoding)
        if target.provider is Provider.MISTRAL:
            self._to_mistral(flow, config, request, target.model)
            return
        path = f"/v1beta/models/{target.model}:batchEmbedContents"
        ctx = context(flow)
        batches = batch_bodies(request, target.model)
        ctx.model = request.model
        ctx.gemini_model = target.model
        bodies = tuple(json.dumps(batch).encode() for batch in batches)
        ctx.upstream = UpstreamPlan("POST", path, "", stream=False, model=target.model, batches=bodies)
        ctx.embeddings = request
        # The batches as one JSON array: what mitmweb shows; KeyRouting sends `bodies`, one request each.
        rewrite_request(flow, "POST", path, json.dumps(batches, ensure_ascii=False).encode())

    def _to_mistral(self, flow: http.HTTPFlow, config: RouterConfig, request: EmbeddingRequest, model: str) -> None:
        """Mistral takes a list of inputs as OpenAI does: one request, or several batches when
        the inputs exceed what one request may hold."""
        if not config.has_keys_for(Provider.MISTRAL):
            raise InvalidRequest(
                f"The model {request.model} is served by mistral, and the pool has no mistral keys.",
                param="model",
                code="provider_not_configured",
            )
        ctx = context(flow)
        ctx.model = request.model
        ctx.gemini_model = model
        batches = mistral_batch_bodies(request, model)
        bodies = tuple(json.dumps(batch, ensure_ascii=False).encode() for batch in batches) if len(batches) > 1 else ()
        ctx.upstream = UpstreamPlan("POST", MISTRAL_PATH, "", stream=False, model=model, provider=Provider.MISTRAL, batches=bodies)
        ctx.embeddings = request
        shown = batches[0] if len(batches) == 1 else batches  # several: what mitmweb shows; KeyRouting sends `bodies`
        rewrite_request(flow, "POST", MISTRAL_PATH, json.dumps(shown, ensure_ascii=False).encode())

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        ctx = context(flow)
        request = ctx.embeddings
        assert request is not None  # set by translate_request
        provider = ctx.upstream.provider if ctx.upstream else Provider.GEMINI
        read = mistral_embedding_answer if provider == Provider.MISTRAL else embedding_answer
        answer = read(json.loads(flow.response.raw_content or b"[]"), request)
        ctx.usage = answer.usage
        headers = {"content-type": "application/json"}
        if ctx.upstream is not None:
            headers[SERVED_BY_HEADER] = f"{ctx.upstream.provider}/{ctx.upstream.model}"
        flow.response = http.Response.make(200, json.dumps(openai_embeddings(answer, request)), headers)


def _encoding() -> TokenDecoder:
    """cl100k_base, built on the first token-id request (~0.7 s once, ~40 MiB: routers whose
    clients send text never pay for it)."""
    try:
        return cl100k_base()
    except EncodingUnavailable as e:
        raise RouterError(f"The router cannot decode token-id inputs: {e}. Send the inputs as text meanwhile.") from e
