"""The flash cache's store (see addons/cache.py), after the translation.

`CacheStore` stores complete 200 answers in `response`: non-streamed chat answers from the
completion ChatTranslation left in the flow's context (not parsed again), streamed ones from a
copy of the SSE bytes the client was sent (collected by a tee around the stream in
`responseheaders`). A Responses or Messages entry holds the model's answer
(core/cachedanswer.py), collected from the translator's stream adapter or taken from its
non-streamed answer. It releases the request's local followers and, with `state.redis_url`,
stores the answer in Redis too and gives up the request's lead there (a finished answer is
stored in both, with the cache's TTL; an entry larger than `cache.max_bytes` in neither).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.cache import CHAT, FlashCache
from hpn_router.addons.cachehit import HEADER, HIT
from hpn_router.addons.chat import StreamAdapter
from hpn_router.addons.flowcontext import CacheDecision, context
from hpn_router.core.cachedanswer import AnswerCollector, answer_to_json
from hpn_router.core.inbound.openai_chat_answer import usage_to_openai
from hpn_router.core.inbound.openai_chat_cached import StreamCollector
from hpn_router.core.model.answer import ChatAnswer
from hpn_router.core.responsecache import CachedAnswer


class CacheStore:
    def __init__(self, flash: FlashCache) -> None:
        self.flash = flash
        self._tees: dict[str, StreamTee] = {}

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        decision = context(flow).cache
        if not decision or flow.response is None or flow.is_replay or meta.is_attempt(flow):
            return
        try:
            flow.response.headers[HEADER] = decision.status  # a stream's headers leave after this hook
            stream = flow.response.stream
            if _storable(flow, decision) and isinstance(stream, StreamAdapter) and context(flow).route != CHAT:
                # The translator's own adapter sees the model's events: collect the answer there.
                stream.collector = AnswerCollector(max_chars=self.flash.config.cache.max_bytes if self.flash.config else None)
            elif _storable(flow, decision) and callable(stream):
                max_chars = self.flash.config.cache.max_bytes if self.flash.config else None
                tee = StreamTee(flow.response.stream, flow.response, max_chars=max_chars)
                flow.response.stream = tee
                self._tees[flow.id] = tee
        except Exception:
            logger.exception("cache: could not watch the stream")

    async def response(self, flow: http.HTTPFlow) -> None:
        tee = self._tees.pop(flow.id, None)
        decision = context(flow).cache
        if not decision or flow.is_replay or meta.is_attempt(flow):
            return
        answer = None
        try:
            if flow.response is not None:
                flow.response.headers[HEADER] = decision.status
                if _storable(flow, decision):
                    answer = self._answer(flow, tee)
            if answer is not None and self.flash.entries is not None and decision.key is not None:
                self.flash.entries.put(decision.key, answer)
        except Exception:
            logger.exception("cache: could not store the answer")
        finally:
            self.flash.release(decision, answer)
        try:
            # Before the client gets its answer: another router asked next finds it.
            await self.flash.finish_shared(decision, answer)
        except Exception:  # a failed share must not turn the client's answer into an error
            logger.exception("cache: could not share the answer")

    async def error(self, flow: http.HTTPFlow) -> None:
        self._tees.pop(flow.id, None)
        decision = context(flow).cache
        if decision and not flow.is_replay:
            try:
                self.flash.release(decision, None)
                await self.flash.finish_shared(decision, None)
            except Exception:
                logger.exception("cache: could not release waiting requests")

    def _answer(self, flow: http.HTTPFlow, tee: StreamTee | None) -> CachedAnswer | None:
        assert flow.response is not None
        ctx = context(flow)
        if ctx.route != CHAT:
            answer = _model_answer(flow)
            return None if answer is None else CachedAnswer(answer_to_json(answer), None, self.flash.timer())
        completion: Any
        if ctx.relayed:
            completion = tee.collector.completion() if tee else None
        else:
            completion = _completion(flow)
            if not isinstance(completion, dict) or completion.get("object") != "chat.completion":
                return None
        if completion is None:
            return None
        # A stream without include_usage carried no usage; ChatTranslation kept it.
        usage = completion.get("usage") or (usage_to_openai(ctx.usage) if ctx.usage is not None else None)
        completion["usage"] = usage
        return CachedAnswer(completion, usage, self.flash.timer())


def _model_answer(flow: http.HTTPFlow) -> ChatAnswer | None:
    """A Responses or Messages answer as the model: collected from the stream, or the one the
    translator rendered the body from (unless the body has changed since)."""
    assert flow.response is not None
    ctx = context(flow)
    if ctx.relayed:
        adapter = flow.response.stream
        collector = adapter.collector if isinstance(adapter, StreamAdapter) else None
        return collector.answer() if collector is not None else None
    answer = ctx.answer
    return answer.answer if answer is not None and answer.raw is flow.response.raw_content else None


def _completion(flow: http.HTTPFlow) -> Any:
    """The non-streamed answer: the completion ChatTranslation wrote, unless the body has
    changed since (then, or without one, the body parsed). A copy: the entry gets its usage."""
    assert flow.response is not None
    answer = context(flow).answer
    if answer is not None and answer.raw is flow.response.raw_content:
        return dict(answer.rendered)
    return json.loads(flow.response.raw_content or b"null")


def _storable(flow: http.HTTPFlow, decision: CacheDecision) -> bool:
    """An answer from upstream to a request whose answer may be stored (and only such a
    request leads followers): not a hit, not the router's own error answer."""
    return (
        decision.key is not None
        and decision.status != HIT
        and decision.store
        and flow.response is not None
        and flow.response.status_code == 200
        and not context(flow).local
    )


class StreamTee:
    """Wraps the response's stream callable: passes its output on unchanged and collects a
    copy. At the end of the stream it puts the wrapped callable back on the response, so
    the addon that installed it finds its own object again in `response`."""

    def __init__(self, inner: Callable[[bytes], Any], response: http.Response, *, max_chars: int | None) -> None:
        self.inner = inner
        self.response = response
        self.collector = StreamCollector(max_chars=max_chars)

    def __call__(self, data: bytes) -> Any:
        chunks = self.inner(data)
        if not isinstance(chunks, bytes):
            chunks = list(chunks)
        try:
            for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                self.collector.feed(chunk)
        except Exception:
            self.collector.failed = True  # never break the client's stream over the cache
        finally:
            if data == b"":
                self.response.stream = self.inner
        return chunks
