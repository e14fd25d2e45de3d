"""Embeddings: `POST /v1/embeddings` as Gemini `batchEmbedContents`, and back.

More than 100 inputs go out as several batches (Gemini's limit); KeyRouting sends them in
order with failover each, and the vectors come back in the client's order. Token-id inputs
(LangChain's default) are decoded to text with cl100k_base, loaded on first use from the file
the install ships (hpn_router.edge.tiktoken_files), never from the network.
"""

from __future__ import annotations

import json

from mitmproxy import http

from hpn_router.addons.answers import (
    parse_json_body,
    rewrite_request,
)
from hpn_router.addons.flowcontext import EmbeddingsOptions, UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.embeddings import (
    MAX_DIMENSIONS,
    TokenDecoder,
    decode_token_ids,
    embedding_batches,
    embeddings_to_openai,
    holds_token_ids,
    token_id_count,
    validate_embeddings_request,
)
from hpn_router.core.errors import RouterError
from hpn_router.core.model.answer import Usage
from hpn_router.core.models import gemini_model_for
from hpn_router.edge.tiktoken_files import EncodingUnavailable, cl100k_base


class Embeddings:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        body = validate_embeddings_request(parse_json_body(flow))
        prompt_tokens = None
        if holds_token_ids(body):
            prompt_tokens = token_id_count(body)
            body = decode_token_ids(body, _encoding())
        gemini_model = gemini_model_for(body["model"], config.models, config.gemini.default_embedding_model)
        batches = embedding_batches(body, gemini_model)
        dimensions = body.get("dimensions")
        path = f"/v1beta/models/{gemini_model}:batchEmbedContents"
        ctx = context(flow)
        ctx.model = body["model"]
        ctx.gemini_model = gemini_model
        ctx.upstream = UpstreamPlan("POST", path, "", stream=False, model=gemini_model, batched=True)
        ctx.embeddings = EmbeddingsOptions(
            encoding_format=body["encoding_format"],
            normalize=dimensions is not None and dimensions < MAX_DIMENSIONS,
            prompt_tokens=prompt_tokens,
        )
        # A JSON array of batch bodies; KeyRouting sends one request per element.
        rewrite_request(flow, "POST", path, json.dumps(batches, ensure_ascii=False).encode())

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        batches = json.loads(flow.request.raw_content or b"[]")
        inputs = [r["content"]["parts"][0]["text"] for batch in batches for r in batch["requests"]]
        ctx = context(flow)
        options = ctx.embeddings
        assert options is not None  # set by translate_request
        answer = embeddings_to_openai(
            json.loads(flow.response.raw_content or b"[]"),
            model=ctx.model or "",
            encoding_format=options.encoding_format,
            inputs=inputs,
            normalize=options.normalize,
            prompt_tokens=options.prompt_tokens,
        )
        ctx.usage = Usage(input_tokens=answer["usage"]["prompt_tokens"])
        flow.response = http.Response.make(200, json.dumps(answer), {"content-type": "application/json"})


def _encoding() -> TokenDecoder:
    """cl100k_base, built on the first token-id request (~0.7 s once, ~40 MiB: routers whose
    clients send text never pay for it)."""
    try:
        return cl100k_base()
    except EncodingUnavailable as e:
        raise RouterError(f"The router cannot decode token-id inputs: {e}. Send the inputs as text meanwhile.") from e
