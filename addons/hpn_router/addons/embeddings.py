"""Embeddings: `POST /v1/embeddings` as Gemini `batchEmbedContents`, and back.

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
from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.errors import RouterError
from hpn_router.core.inbound.openai_embeddings import TokenDecoder, embedding_request, openai_embeddings
from hpn_router.core.model.routing import gemini_only, route_model
from hpn_router.core.providers.gemini.embeddings import DIMENSIONS, batch_bodies, embedding_answer
from hpn_router.edge.tiktoken_files import EncodingUnavailable, cl100k_base


class Embeddings:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        request = embedding_request(parse_json_body(flow), dimensions=DIMENSIONS, encoding=_encoding)
        target = gemini_only(
            route_model(request.model, config.models, config.gemini.default_embedding_model), request.model, "/v1/embeddings"
        )
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

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        ctx = context(flow)
        request = ctx.embeddings
        assert request is not None  # set by translate_request
        answer = embedding_answer(json.loads(flow.response.raw_content or b"[]"), request)
        ctx.usage = answer.usage
        flow.response = http.Response.make(200, json.dumps(openai_embeddings(answer, request)), {"content-type": "application/json"})


def _encoding() -> TokenDecoder:
    """cl100k_base, built on the first token-id request (~0.7 s once, ~40 MiB: routers whose
    clients send text never pay for it)."""
    try:
        return cl100k_base()
    except EncodingUnavailable as e:
        raise RouterError(f"The router cannot decode token-id inputs: {e}. Send the inputs as text meanwhile.") from e
