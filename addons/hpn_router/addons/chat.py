"""ChatTranslation: `POST /v1/chat/completions` as Gemini `generateContent`, and back.

A translator run by the Translation addon. `translate_request` reads the OpenAI request into
the ChatRequest model (core/inbound/openai_chat_request.py), turns that into Gemini's body
(core/providers/gemini/chat_request.py) and rewrites the flow's request into it (so mitmweb
shows what goes upstream), leaving KeyRouting a plan in the flow's context; `start_stream`/`translate_response`
turn Gemini's answer, streamed or not, into OpenAI's format. Bad input raises InvalidRequest,
which Translation answers with a 4xx; nothing is forwarded. Parameters the target model does
not take (penalties, on Gemini 3 and on aliases) are left out and named in `X-HPN-Ignored-Params`.
"""

from __future__ import annotations

import json
import time

from mitmproxy import http

from hpn_router.addons.answers import (
    parse_json_body,
    replace_body,
    rewrite_request,
)
from hpn_router.addons.flowcontext import AnswerBody, Parsed, UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.inbound.openai_chat_answer import ChunkEncoder, new_completion_id, openai_completion
from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.model.routing import route_model
from hpn_router.core.providers.gemini.chat_answer import GeminiStreamDecoder, gemini_answer
from hpn_router.core.providers.gemini.chat_request import TranslateOptions, chat_request_to_gemini, ignored_params

IGNORED_HEADER = "X-HPN-Ignored-Params"


class ChatTranslation:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        request = chat_request(flow)
        gemini_model = route_model(request.model, config.models, config.gemini.default_model).model
        gemini_body = chat_request_to_gemini(request, gemini_model, translate_options(config))
        stream = request.stream
        path = f"/v1beta/models/{gemini_model}:" + ("streamGenerateContent" if stream else "generateContent")
        query = "alt=sse" if stream else ""
        ctx = context(flow)
        ctx.model = request.model
        ctx.gemini_model = gemini_model
        ctx.stream = stream
        ctx.include_usage = request.include_usage
        ctx.legacy_functions = request.legacy_functions
        ctx.upstream = UpstreamPlan("POST", path, query, stream=stream, model=gemini_model)
        ctx.ignored_params = ignored_params(request, gemini_model)
        content = json.dumps(gemini_body, ensure_ascii=False).encode()
        rewrite_request(flow, "POST", path + (f"?{query}" if query else ""), content)

    def start_stream(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        """A relayed 200 stream: translate it event by event as mitmproxy pumps it."""
        assert flow.response is not None
        ctx = context(flow)
        encoder = ChunkEncoder(
            model=ctx.model or "",
            completion_id=new_completion_id(),
            created=int(time.time()),
            include_usage=ctx.include_usage,
            expose_reasoning=config.gemini.expose_reasoning,
            legacy_functions=ctx.legacy_functions,
        )
        name_ignored_params(flow)
        flow.response.headers["content-type"] = "text/event-stream"
        flow.response.headers.pop("content-length", None)
        flow.response.stream = StreamAdapter(GeminiStreamDecoder(), encoder)

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        if context(flow).relayed:
            self._record_stream(flow)
        else:
            self._translate_completion(flow, config)

    def _translate_completion(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        ctx = context(flow)
        answer = gemini_answer(json.loads(flow.response.raw_content or b"{}"))
        completion = openai_completion(
            answer,
            model=ctx.model or "",
            completion_id=new_completion_id(),
            created=int(time.time()),
            expose_reasoning=config.gemini.expose_reasoning,
            legacy_functions=ctx.legacy_functions,
        )
        ctx.usage = answer.usage
        # Rewritten in place: a new Response would re-run mitmproxy's per-field type checks,
        # a measurable share of the router's CPU per request.
        replace_body(flow.response, json.dumps(completion, ensure_ascii=False).encode())
        # CacheStore stores the completion and Cost reads the answer: neither parses the body.
        ctx.answer = AnswerBody(flow.response.raw_content, answer, completion)
        name_ignored_params(flow)

    def _record_stream(self, flow: http.HTTPFlow) -> None:
        """A streamed answer has gone out; keep what the cost estimator needs."""
        adapter = flow.response.stream if flow.response else None
        if isinstance(adapter, StreamAdapter):
            ctx = context(flow)
            ctx.usage = adapter.decoder.usage
            ctx.answer_text = adapter.encoder.text
            ctx.first_chunk_at = adapter.first_chunk_at


class StreamAdapter:
    """mitmproxy's stream callable: Gemini's bytes in, the model's events through, a *list* of
    OpenAI chunks out. Returning b"" would end the client's chunked body early
    (docs/mitmproxy.md#the-empty-chunk-ends-the-body), so nothing empty leaves."""

    def __init__(self, decoder: GeminiStreamDecoder, encoder: ChunkEncoder) -> None:
        self.decoder = decoder
        self.encoder = encoder
        self.first_chunk_at: float | None = None  # time to first token, for metrics

    def __call__(self, data: bytes) -> list[bytes]:
        events = self.decoder.feed(data) if data else self.decoder.finish()
        chunks = [chunk for chunk in self.encoder.encode_all(events) if chunk]
        if chunks and self.first_chunk_at is None:
            self.first_chunk_at = time.time()
        return chunks


def chat_request(flow: http.HTTPFlow) -> ChatRequest:
    """The client's chat request as the model, parsed and validated once per body: CacheLookup
    (which runs first), translate_request and Cost share it through the flow's context. A body
    edited since (mitmweb's intercept) is parsed again. Raises what parse_json_body and
    parse_chat_request raise."""
    ctx = context(flow)
    raw = flow.request.raw_content
    if ctx.request is None or ctx.request.raw is not raw:
        ctx.request = Parsed(raw, parse_chat_request(parse_json_body(flow)))
    request: ChatRequest = ctx.request.value
    return request


def translate_options(config: RouterConfig) -> TranslateOptions:
    return TranslateOptions(expose_reasoning=config.gemini.expose_reasoning)


def name_ignored_params(flow: http.HTTPFlow) -> None:
    ignored = context(flow).ignored_params
    if ignored and flow.response is not None:
        flow.response.headers[IGNORED_HEADER] = ", ".join(ignored)
