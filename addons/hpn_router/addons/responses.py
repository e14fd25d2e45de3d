"""ResponsesTranslation: `POST /v1/responses` (OpenAI's Responses API) as the serving provider's
chat request (Gemini, Mistral or Anthropic, routed as a chat request is), and back.

A translator run by the Translation addon, like ChatTranslation (addons/chat.py), with another
inbound pair: the Responses body becomes the same ChatRequest model
(core/inbound/openai_responses_request.py) and the provider's answer, streamed or not, becomes a
Response object (core/inbound/openai_responses_answer.py) or the Responses SSE events
(core/inbound/openai_responses_stream.py). The provider side is the chat one (PROVIDERS),
unchanged; a fallback is decoded as whichever provider served it. Bad input raises InvalidRequest, which Translation answers
with a 400 in OpenAI's envelope; nothing is forwarded.

Responses are stored (core/inbound/openai_responses_store.py) unless the request says
`store: false`: a later request's `previous_response_id` continues the stored conversation (an
unknown id, or another client's, is OpenAI's 400 `previous_response_not_found`), and
StoredResponses (addons/responsestore.py) answers `GET`/`DELETE /v1/responses/{id}` from the
same store. A failed response is not kept.

The flash cache serves this endpoint through `cached_request` (the key's request) and
`answer_cached` (a hit rendered as a Response, stored like any other). Cost counts it like a
chat request, from the answer's usage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import parse_json_body, replace_body
from hpn_router.addons.chat import StreamAdapter, name_ignored_params, plan_upstream, provider_chat, routed
from hpn_router.addons.flowcontext import AnswerBody, Parsed, context
from hpn_router.config import RouterConfig
from hpn_router.core.cachedanswer import answer_events
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.openai_responses_answer import ResponseHead, new_response_id, response_object
from hpn_router.core.inbound.openai_responses_input import output_messages
from hpn_router.core.inbound.openai_responses_request import ResponsesRequest, parse_responses_request, previous_response_id
from hpn_router.core.inbound.openai_responses_store import ResponseStore, stored_response
from hpn_router.core.inbound.openai_responses_stream import ResponsesEncoder
from hpn_router.core.model.answer import ChatAnswer
from hpn_router.core.model.request import ChatRequest, Message

ANONYMOUS = "anonymous"  # Access's name for a client without a token (no client tokens configured)
History = Callable[[str], "tuple[Message, ...] | None"]


class ResponsesTranslation:
    def __init__(self, store: ResponseStore | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store if store is not None else ResponseStore()
        self.clock = clock

    def apply(self, config: RouterConfig) -> None:
        limits = config.responses
        self.store.configure(
            max_entries=limits.store_max, max_bytes=limits.store_max_bytes, ttl_seconds=limits.store_ttl_seconds, now=self.clock()
        )

    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        owner = context(flow).client or ANONYMOUS
        parsed = responses_request(flow, lambda response_id: self.store.conversation(response_id, owner, self.clock()))
        plan_upstream(flow, parsed.chat, routed(parsed.chat, config), config)

    def cached_request(self, flow: http.HTTPFlow) -> ChatRequest:
        """The request as the flash cache keys it: with the conversation its
        `previous_response_id` names (an unknown id raises, as translate_request does)."""
        owner = context(flow).client or ANONYMOUS
        return responses_request(flow, lambda response_id: self.store.conversation(response_id, owner, self.clock())).chat

    def answer_cached(self, flow: http.HTTPFlow, config: RouterConfig, answer: ChatAnswer) -> tuple[bytes, str]:
        """A cached answer as this request's Response (body, content type): a fresh id, this
        request's model name and `store`, and kept like an answer from upstream when `store` is on,
        so a later `previous_response_id` can continue from it."""
        request = self.cached_request(flow)
        context(flow).model = request.model
        head = self._head(flow, config)
        if request.stream:
            encoder = ResponsesEncoder(head)
            body, content_type = b"".join(encoder.encode_all(answer_events(answer))), "text/event-stream"
            rendered = encoder.response
        else:
            rendered = response_object(answer, head)
            body, content_type = json.dumps(rendered, ensure_ascii=False).encode(), "application/json"
        if rendered is not None:
            self._keep(flow, rendered)
        return body, content_type

    def start_stream(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        """A relayed 200 stream: translate it event by event as mitmproxy pumps it."""
        assert flow.response is not None
        name_ignored_params(flow)
        flow.response.headers["content-type"] = "text/event-stream"
        flow.response.headers.pop("content-length", None)
        flow.response.stream = StreamAdapter(provider_chat(flow).decoder(), ResponsesEncoder(self._head(flow, config)))  # type: ignore[arg-type]

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        ctx = context(flow)
        if ctx.relayed:
            adapter = flow.response.stream if flow.response else None
            if isinstance(adapter, StreamAdapter):
                ctx.usage = adapter.decoder.usage
                ctx.answer_text = adapter.encoder.text
                ctx.first_chunk_at = adapter.first_chunk_at  # time to first token, for metrics
                if adapter.encoder.response is not None:
                    self._keep(flow, adapter.encoder.response)
            return
        assert flow.response is not None
        answer = provider_chat(flow).answer(json.loads(flow.response.raw_content or b"{}"))
        rendered = response_object(answer, self._head(flow, config))
        ctx.usage = answer.usage
        replace_body(flow.response, json.dumps(rendered, ensure_ascii=False).encode())
        ctx.answer = AnswerBody(flow.response.raw_content, answer, rendered)
        name_ignored_params(flow)
        self._keep(flow, rendered)

    def _keep(self, flow: http.HTTPFlow, response: dict[str, Any]) -> None:
        """Store a response its request let us store, with the conversation it ends."""
        ctx = context(flow)
        parsed = ctx.responses
        if parsed is None or response.get("store") is not True or response.get("status") == "failed":
            return
        try:
            conversation = output_messages(response.get("output") or [], parsed.conversation)
        except InvalidRequest as e:  # an output the input reader refuses: answered, just not continuable
            logger.warning("Response {} not stored: its output does not read back as input ({})", response.get("id"), e.message)
            return
        entry = stored_response(ctx.client or ANONYMOUS, response, conversation)
        if self.store.put(entry, self.clock()):
            ctx.kept_response = entry  # SharedResponses passes it on to the other routers

    def _head(self, flow: http.HTTPFlow, config: RouterConfig) -> ResponseHead:
        ctx = context(flow)
        parsed = ctx.responses
        echo: dict[str, Any] = dict(parsed.echo) if parsed else {}
        echo["store"] = bool(parsed and parsed.store and self.store.enabled)
        echo["previous_response_id"] = parsed.previous_response_id if parsed else None
        return ResponseHead(
            response_id=new_response_id(),
            created=int(time.time()),
            model=ctx.model or "",
            echo=echo,
            custom_tools=parsed.custom_tools if parsed else frozenset(),
            namespaced=parsed.namespaced if parsed else {},
            expose_reasoning=config.gemini.expose_reasoning,
        )


def responses_request(flow: http.HTTPFlow, history: History = lambda response_id: None) -> ResponsesRequest:
    """The client's Responses request, parsed and validated once per body; its ChatRequest also
    goes into `ctx.request`, where Cost reads every chat-like request's prompt. `history` finds
    the stored conversation a `previous_response_id` names (None: not found)."""
    ctx = context(flow)
    raw = flow.request.raw_content
    if ctx.responses is None or ctx.request is None or ctx.request.raw is not raw:
        body = parse_json_body(flow)
        previous = previous_response_id(body) if isinstance(body, dict) else None
        ctx.responses = parse_responses_request(body, history(previous) if previous is not None else None)
        ctx.request = Parsed(raw, ctx.responses.chat)
    return ctx.responses
