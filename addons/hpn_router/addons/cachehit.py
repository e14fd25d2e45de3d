"""A flash-cache hit answered: the entry rendered as this request's answer, with a fresh id and
timestamp and the model name this client asked for.

Chat hits fill a template rendered once per entry and kind of answer (core/bodytemplate.py):
a hit costs the three per-request fields, not a serialisation. Responses and Messages hits are
rendered by their API's translator from the model's answer, parsed once per entry and shared
(the model's answer is frozen). CacheLookup (addons/cachelookup.py) decides a hit; this answers it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Protocol

from mitmproxy import http

from hpn_router.addons.answers import local_response
from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.core.bodytemplate import BodyTemplate
from hpn_router.core.cachedanswer import answer_from_json
from hpn_router.core.inbound.openai_chat_answer import new_completion_id, usage_from_openai
from hpn_router.core.inbound.openai_chat_cached import completion_to_sse
from hpn_router.core.model.answer import ChatAnswer, Usage
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.responsecache import CachedAnswer

HEADER = "X-HPN-Cache"
HIT = "HIT"


class CachedApi(Protocol):
    """A translator whose answers the cache keeps as the model's answer (ResponsesTranslation,
    MessagesTranslation)."""

    def cached_request(self, flow: http.HTTPFlow) -> ChatRequest:
        """The client's request as the model (raises ValueError or RouterError when invalid)."""
        ...

    def answer_cached(self, flow: http.HTTPFlow, config: RouterConfig, answer: ChatAnswer) -> tuple[bytes, str]:
        """`answer` as this request's answer: the body and its content type."""
        ...


def answer_api_hit(
    flow: http.HTTPFlow, api: CachedApi, config: RouterConfig, request: ChatRequest, hit: CachedAnswer, *, coalesced: bool
) -> None:
    """Answer a Responses or Messages request from the cache, rendered by its translator."""
    answer = hit.renders.get("answer")
    if answer is None:  # parsed once per entry; the model's answer is frozen, so hits share it
        answer = hit.renders["answer"] = answer_from_json(hit.completion)
    body, content_type = api.answer_cached(flow, config, answer)
    headers = {"content-type": content_type, **({"cache-control": "no-cache"} if request.stream else {})}
    flow.response = local_response(200, body, {**headers, HEADER: HIT})
    ctx = context(flow)
    ctx.local, ctx.model, ctx.stream, ctx.usage = True, request.model, request.stream, answer.usage
    assert ctx.cache is not None  # CacheLookup decided before answering
    ctx.cache.status, ctx.cache.coalesced = HIT, coalesced  # RequestLog's line says so


def answer_hit(flow: http.HTTPFlow, request: ChatRequest, hit: CachedAnswer, *, coalesced: bool) -> None:
    """Answer from the cache: a fresh id and timestamp, the model name this client asked for."""
    stream = request.stream
    body = _chat_template(hit, stream=stream, include_usage=request.include_usage).fill(
        {
            "id": b'"' + new_completion_id().encode() + b'"',
            "created": str(int(time.time())).encode(),
            "model": _json_string(request.model, sse=stream),
        }
    )
    if stream:
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache", HEADER: HIT}
    else:
        headers = {"content-type": "application/json", HEADER: HIT}
    flow.response = local_response(200, body, headers)
    ctx = context(flow)
    ctx.local, ctx.model, ctx.stream, ctx.usage = True, request.model, stream, _usage(hit)
    assert ctx.cache is not None  # CacheLookup decided before answering
    ctx.cache.status, ctx.cache.coalesced = HIT, coalesced  # RequestLog's line says so


_SLOTS = ("id", "created", "model")


def _chat_template(hit: CachedAnswer, *, stream: bool, include_usage: bool) -> BodyTemplate:
    """The entry's answer as this kind of request gets it, rendered once per entry with holes for
    the per-request fields (core/bodytemplate.py); later hits fill the holes."""
    kind = ("chat", stream, stream and include_usage)
    template: BodyTemplate | None = hit.renders.get(kind)
    if template is None:
        usage = hit.usage or hit.completion.get("usage")

        def render(slot: Callable[[str], str]) -> bytes:
            completion = {**hit.completion, "id": slot("id"), "created": slot("created"), "model": slot("model"), "usage": usage}
            if stream:
                return b"".join(completion_to_sse(completion, include_usage=include_usage))
            return json.dumps(completion, ensure_ascii=False).encode()

        template = hit.renders[kind] = BodyTemplate.render(render, _SLOTS)
    return template


def _usage(hit: CachedAnswer) -> Usage | None:
    """The entry's usage as the model (one conversion per entry)."""
    if "usage" not in hit.renders:
        hit.renders["usage"] = usage_from_openai(hit.usage or hit.completion.get("usage"))
    usage: Usage | None = hit.renders["usage"]
    return usage


def _json_string(text: str, *, sse: bool) -> bytes:
    """`text` as the answer's JSON writes it (an SSE event also escapes U+2028/U+2029)."""
    encoded = json.dumps(text, ensure_ascii=False)
    if sse:
        encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return encoded.encode()
