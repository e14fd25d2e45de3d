"""ChatTranslation: `POST /v1/chat/completions` as the provider's chat request, and back.

A translator run by the Translation addon. `translate_request` reads the OpenAI request into
the ChatRequest model (core/inbound/openai_chat_request.py), routes its model to a provider
(core/model/routing.py), turns it into that provider's body with the provider's translator
pair (PROVIDERS: Gemini's core/providers/gemini/, Mistral's core/providers/mistral/, Anthropic's
core/providers/anthropic/) and rewrites the flow's request into it (so mitmweb
shows what goes upstream), leaving KeyRouting a plan in the flow's context; `start_stream`/`translate_response`
turn Gemini's answer, streamed or not, into OpenAI's format. Bad input raises InvalidRequest,
which Translation answers with a 4xx; nothing is forwarded. Parameters the target model does
not take (penalties, on Gemini 3 and on aliases) are left out and named in `X-HPN-Ignored-Params`.
Every answer names who served it: `X-HPN-Served-By: <provider>/<model>`. A model whose
provider has no keys in the pool gets a 400 naming that provider; nothing is forwarded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mitmproxy import http

from hpn_router.addons.answers import apply_plan, parse_json_body, replace_body
from hpn_router.addons.flowcontext import AnswerBody, FallbackPlan, Parsed, PlannedUpstream, UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.cachedanswer import AnswerCollector
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.openai_chat_answer import new_completion_id, openai_completion
from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.inbound.openai_chat_stream import ChunkEncoder
from hpn_router.core.model.answer import ChatAnswer, StreamEvent, Usage
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.model.routing import Provider, Target, bare_name, route_model
from hpn_router.core.providers.anthropic.chat_answer import AnthropicStreamDecoder, anthropic_answer
from hpn_router.core.providers.anthropic.chat_request import chat_request_to_anthropic
from hpn_router.core.providers.anthropic.chat_request import ignored_params as anthropic_ignored_params
from hpn_router.core.providers.gemini.chat_answer import GeminiStreamDecoder, gemini_answer
from hpn_router.core.providers.gemini.chat_request import TranslateOptions, chat_request_to_gemini, ignored_params
from hpn_router.core.providers.mistral.chat_answer import MistralStreamDecoder, mistral_answer
from hpn_router.core.providers.mistral.chat_request import chat_request_to_mistral
from hpn_router.core.providers.mistral.chat_request import ignored_params as mistral_ignored_params

IGNORED_HEADER = "X-HPN-Ignored-Params"
SERVED_BY_HEADER = "X-HPN-Served-By"


class StreamDecoder(Protocol):
    @property
    def usage(self) -> Usage | None: ...

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


@dataclass(frozen=True, slots=True)
class ProviderChat:
    """One provider's chat translator pair: the request body, the upstream path and query, the
    whole answer, the stream decoder."""

    body: Callable[[ChatRequest, str, RouterConfig], dict[str, Any]]
    path: Callable[[str, bool], tuple[str, str]]  # (model, stream) -> (path, query)
    answer: Callable[[dict[str, Any]], ChatAnswer]
    decoder: Callable[[], StreamDecoder]
    ignored: Callable[[ChatRequest, str], list[str]]  # parameters not sent to this model


def _gemini_path(model: str, stream: bool) -> tuple[str, str]:
    return f"/v1beta/models/{model}:" + ("streamGenerateContent" if stream else "generateContent"), "alt=sse" if stream else ""


PROVIDERS: dict[Provider, ProviderChat] = {
    Provider.GEMINI: ProviderChat(
        body=lambda request, model, config: chat_request_to_gemini(request, model, translate_options(config)),
        path=_gemini_path,
        answer=gemini_answer,
        decoder=GeminiStreamDecoder,
        ignored=ignored_params,
    ),
    Provider.MISTRAL: ProviderChat(
        body=lambda request, model, config: chat_request_to_mistral(request, model),
        path=lambda model, stream: ("/v1/chat/completions", ""),
        answer=mistral_answer,
        decoder=MistralStreamDecoder,
        ignored=lambda request, model: mistral_ignored_params(request),
    ),
    Provider.ANTHROPIC: ProviderChat(
        body=lambda request, model, config: chat_request_to_anthropic(request, model),
        path=lambda model, stream: ("/v1/messages", ""),
        answer=anthropic_answer,
        decoder=AnthropicStreamDecoder,
        ignored=anthropic_ignored_params,
    ),
}


def routed(request: ChatRequest, config: RouterConfig) -> Target:
    """The request's provider and model; a 400 naming the provider when the pool has no key of it."""
    target = route_model(request.model, config.models, config.gemini.default_model, config.providers_with_keys())
    if not config.has_keys_for(target.provider):
        raise InvalidRequest(
            f"The model {request.model} is served by {target.provider}, and the pool has no {target.provider} keys.",
            param="model",
            code="provider_not_configured",
        )
    return target


def plan_upstream(flow: http.HTTPFlow, request: ChatRequest, target: Target, config: RouterConfig) -> None:
    """Rewrites the flow into the target provider's request for `request` (so mitmweb shows what
    goes upstream) and leaves KeyRouting the plan, with the models to fall back to (planned
    only if reached, from this same parsed request): what every inbound chat-like API does."""
    planned = planned_upstream(request, target, config)
    fallbacks = tuple(fallback_plan(request, name, config) for name in fallback_names(request.model, target, config))
    ctx = context(flow)
    ctx.model = request.model
    ctx.stream = request.stream
    apply_plan(flow, replace(planned, plan=replace(planned.plan, fallbacks=fallbacks)))


def planned_upstream(request: ChatRequest, target: Target, config: RouterConfig) -> PlannedUpstream:
    """The target provider's request for `request`. Raises InvalidRequest when that provider
    cannot take it (a provider without a chat translator included)."""
    chat = PROVIDERS.get(target.provider)
    if chat is None:
        raise InvalidRequest(f"The router does not translate chat requests for {target.provider} yet.", param="model")
    body = chat.body(request, target.model, config)
    path, query = chat.path(target.model, request.stream)
    plan = UpstreamPlan("POST", path, query, stream=request.stream, model=target.model, provider=target.provider)
    return PlannedUpstream(plan, json.dumps(body, ensure_ascii=False).encode(), chat.ignored(request, target.model))


def fallback_names(requested: str, target: Target, config: RouterConfig) -> tuple[str, ...]:
    """The configured fallbacks of the client's model name (as spelled, then without `models/`),
    else of the model it routes to (`gpt-4o` aliased to `gemini-2.5-flash` falls back as that)."""
    fallbacks = config.fallbacks
    for name in (requested, bare_name(requested), target.model):
        if name in fallbacks:
            return fallbacks[name]
    return ()


def fallback_plan(request: ChatRequest, name: str, config: RouterConfig) -> FallbackPlan:
    target = route_model(name, config.models, config.gemini.default_model)
    return FallbackPlan(name, target.provider, lambda: planned_upstream(request, target, config))


class ChatTranslation:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        request = chat_request(flow)
        plan_upstream(flow, request, routed(request, config), config)
        ctx = context(flow)
        ctx.include_usage = request.include_usage
        ctx.legacy_functions = request.legacy_functions

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
        flow.response.stream = StreamAdapter(provider_chat(flow).decoder(), encoder)

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        if context(flow).relayed:
            self._record_stream(flow)
        else:
            self._translate_completion(flow, config)

    def _translate_completion(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        ctx = context(flow)
        answer = provider_chat(flow).answer(json.loads(flow.response.raw_content or b"{}"))
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
    """mitmproxy's stream callable: the provider's bytes in, the model's events through, a *list* of
    OpenAI chunks out. Returning b"" would end the client's chunked body early
    (docs/mitmproxy.md#the-empty-chunk-ends-the-body), so nothing empty leaves."""

    def __init__(self, decoder: StreamDecoder, encoder: ChunkEncoder) -> None:
        self.decoder = decoder
        self.encoder = encoder
        self.first_chunk_at: float | None = None  # time to first token, for metrics
        self.collector: AnswerCollector | None = None  # set by CacheStore when the answer may be cached

    def events(self, data: bytes) -> list[StreamEvent]:
        """The model's events in `data` (b"": the end), shown to the collector if there is one."""
        events = self.decoder.feed(data) if data else self.decoder.finish()
        if self.collector is not None:
            self.collector.feed(events)
        return events

    def __call__(self, data: bytes) -> list[bytes]:
        events = self.events(data)
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


def provider_chat(flow: http.HTTPFlow) -> ProviderChat:
    plan = context(flow).upstream
    return PROVIDERS[Provider(plan.provider) if plan else Provider.GEMINI]


def name_ignored_params(flow: http.HTTPFlow) -> None:
    """The answer's own headers: the parameters left out, and who served it."""
    ctx = context(flow)
    if flow.response is None:
        return
    if ctx.ignored_params:
        flow.response.headers[IGNORED_HEADER] = ", ".join(ctx.ignored_params)
    if ctx.upstream is not None:
        flow.response.headers[SERVED_BY_HEADER] = f"{ctx.upstream.provider}/{ctx.upstream.model}"
