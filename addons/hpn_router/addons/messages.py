"""MessagesTranslation: `POST /v1/messages` (Anthropic's Messages API) as the serving provider's chat
request (Gemini `generateContent`, Mistral's chat completions, or for Claude models on Anthropic
keys Anthropic's own Messages API), and back; CountTokens: `POST /v1/messages/count_tokens` as
Gemini's `countTokens` (or Anthropic's count_tokens; Mistral has no token counter).

Translators run by the Translation addon, like ResponsesTranslation (addons/responses.py), with
Anthropic's inbound pair: the Messages body becomes the same ChatRequest model
(core/inbound/anthropic_messages_request.py) and the provider's answer, streamed or not, becomes a
Message object or Anthropic's SSE events (core/inbound/anthropic_messages_answer.py). The
provider side is the chat one (PROVIDERS), unchanged. `claude-*` names go to Anthropic keys when the pool has some,
else to `gemini.default_model` unless `models:` maps them. Requests for Anthropic go through the
same model (core/providers/anthropic/), like a chat request for a Claude model. Every error on
these routes is in Anthropic's envelope (addons/answers.error_format).

The flash cache serves `/v1/messages` through `cached_request` and `answer_cached`. Cost counts
a message like a chat request, from the answer's usage.
"""

from __future__ import annotations

import json
import time

from mitmproxy import http

from hpn_router.addons.answers import answer_json, parse_json_body, replace_body, rewrite_request
from hpn_router.addons.chat import StreamAdapter, name_ignored_params, plan_upstream, provider_chat, routed, translate_options
from hpn_router.addons.flowcontext import AnswerBody, Parsed, UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.cachedanswer import answer_events
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.anthropic_messages_answer import MessageHead, MessagesEncoder, message_object, new_message_id
from hpn_router.core.inbound.anthropic_messages_request import parse_messages_request
from hpn_router.core.model.answer import ChatAnswer
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.model.routing import Provider, Target
from hpn_router.core.providers.anthropic.chat_request import count_tokens_body
from hpn_router.core.providers.gemini.chat_request import chat_request_to_gemini

# What of a generateContent body Gemini's countTokens takes inside `generateContentRequest`.
COUNTED_FIELDS = ("contents", "systemInstruction", "tools", "toolConfig")


class MessagesTranslation:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        request = messages_request(flow)
        plan_upstream(flow, request, _target(request, config), config)

    def cached_request(self, flow: http.HTTPFlow) -> ChatRequest:
        """The request as the flash cache keys it."""
        return messages_request(flow)

    def answer_cached(self, flow: http.HTTPFlow, config: RouterConfig, answer: ChatAnswer) -> tuple[bytes, str]:
        """A cached answer as this request's Message (body, content type): a fresh id and this
        request's model name; streamed, Anthropic's whole event sequence."""
        request = messages_request(flow)
        context(flow).model = request.model
        head = _head(flow, config)
        if request.stream:
            return b"".join(MessagesEncoder(head).encode_all(answer_events(answer))), "text/event-stream"
        return json.dumps(message_object(answer, head), ensure_ascii=False).encode(), "application/json"

    def start_stream(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        """A relayed 200 stream: translate it event by event as mitmproxy pumps it."""
        assert flow.response is not None
        name_ignored_params(flow)
        flow.response.headers["content-type"] = "text/event-stream"
        flow.response.headers.pop("content-length", None)
        flow.response.stream = MessagesStreamAdapter(provider_chat(flow).decoder(), MessagesEncoder(_head(flow, config)))  # type: ignore[arg-type]

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        ctx = context(flow)
        if ctx.relayed:
            adapter = flow.response.stream if flow.response else None
            if isinstance(adapter, StreamAdapter):
                ctx.usage = adapter.decoder.usage
                ctx.answer_text = adapter.encoder.text
                ctx.first_chunk_at = adapter.first_chunk_at  # time to first token, for metrics
            return
        assert flow.response is not None
        answer = provider_chat(flow).answer(json.loads(flow.response.raw_content or b"{}"))
        rendered = message_object(answer, _head(flow, config))
        ctx.usage = answer.usage
        replace_body(flow.response, json.dumps(rendered, ensure_ascii=False).encode())
        ctx.answer = AnswerBody(flow.response.raw_content, answer, rendered)
        name_ignored_params(flow)


class MessagesStreamAdapter(StreamAdapter):
    """StreamAdapter, telling the encoder the usage Gemini has reported so far until the message
    starts: Anthropic's `message_start` carries the input tokens, and Gemini's decoder reports
    usage as an event only at the end."""

    encoder: MessagesEncoder

    def __call__(self, data: bytes) -> list[bytes]:
        events = self.events(data)
        if not self.encoder.started:
            self.encoder.usage = self.decoder.usage
        chunks = [chunk for chunk in self.encoder.encode_all(events) if chunk]
        if chunks and self.first_chunk_at is None:
            self.first_chunk_at = time.time()
        return chunks


class CountTokens:
    """`{"input_tokens": N}` from Gemini's countTokens of the body the message would send, or
    from Anthropic's count_tokens for a Claude model on Anthropic keys."""

    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        request = parse_messages_request(parse_json_body(flow), count_only=True)
        target = _target(request, config)
        if target.provider is Provider.MISTRAL:
            raise InvalidRequest(f"The model {request.model} is served by mistral, which has no token counter.", param="model")
        if target.provider is Provider.ANTHROPIC:
            self._to_anthropic(flow, request, target.model)
            return
        gemini_model = target.model
        gemini_body = chat_request_to_gemini(request, gemini_model, translate_options(config))
        counted = {k: v for k, v in gemini_body.items() if k in COUNTED_FIELDS}
        path = f"/v1beta/models/{gemini_model}:countTokens"
        ctx = context(flow)
        ctx.model = request.model
        ctx.gemini_model = gemini_model
        ctx.upstream = UpstreamPlan("POST", path, "", stream=False, model=gemini_model)
        body = {"generateContentRequest": {"model": f"models/{gemini_model}", **counted}}
        rewrite_request(flow, "POST", path, json.dumps(body, ensure_ascii=False).encode())

    @staticmethod
    def _to_anthropic(flow: http.HTTPFlow, request: ChatRequest, model: str) -> None:
        path = "/v1/messages/count_tokens"
        ctx = context(flow)
        ctx.model = request.model
        ctx.gemini_model = model
        ctx.upstream = UpstreamPlan("POST", path, "", stream=False, model=model, provider=Provider.ANTHROPIC)
        rewrite_request(flow, "POST", path, json.dumps(count_tokens_body(request, model), ensure_ascii=False).encode())

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        answer = json.loads(flow.response.raw_content or b"{}")
        total = answer.get("input_tokens", answer.get("totalTokens"))
        answer_json(flow, 200, {"input_tokens": total if isinstance(total, int) else 0})


def messages_request(flow: http.HTTPFlow) -> ChatRequest:
    """The client's Messages request as the model, parsed and validated once per body; it goes
    into `ctx.request`, where Cost reads every chat-like request's prompt."""
    ctx = context(flow)
    raw = flow.request.raw_content
    if ctx.request is None or ctx.request.raw is not raw:
        ctx.request = Parsed(raw, parse_messages_request(parse_json_body(flow)))
    request: ChatRequest = ctx.request.value
    return request


def _head(flow: http.HTTPFlow, config: RouterConfig) -> MessageHead:
    return MessageHead(message_id=new_message_id(), model=context(flow).model or "", expose_reasoning=config.gemini.expose_reasoning)


def _target(request: ChatRequest, config: RouterConfig) -> Target:
    """Who serves a Messages request: routed as a chat request is. Claude models go to Anthropic
    keys when the pool has them (else to `gemini.default_model`, so Claude Code works on a
    Gemini pool), Mistral's names to Mistral keys, the rest to Gemini."""
    return routed(request, config)
