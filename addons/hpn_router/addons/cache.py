"""Flash cache: identical chat, Responses and Messages requests within `cache.ttl_seconds` are
answered by the router.

Two addons around the translation, sharing one `FlashCache` (router.py wires them):

* `CacheLookup` runs after Endpoints and before ChatTranslation in `request`: it keys the
  client's request as the ChatRequest model (model name mapped, see core/cachekey.py; read
  once, ChatTranslation takes the same object from the flow's context) and answers a hit
  locally, as JSON or as an SSE stream, without touching a key or the upstream. While an
  identical request is already upstream, it waits for that answer instead (coalescing).
* `CacheStore` runs after ChatTranslation: it stores complete 200 answers in `response`,
  non-streamed from the completion ChatTranslation left in the flow's context (not parsed
  again), streamed from a copy of the SSE bytes the client was sent (collected by a tee
  around the stream in `responseheaders`).

The Responses and Messages APIs (`apis`: their translators, see `CachedApi`) are cached the same
way, but an entry holds the model's answer (core/cachedanswer.py), collected from the
translator's stream adapter or taken from its non-streamed answer, and a hit is rendered by the
API's translator: a fresh Response or Message, streamed or not as this request asks. The
endpoint is part of the key, so an answer only ever serves the API it was asked on.

With `state.redis_url`, routers sharing one Redis share the cache (SharedPoolState's connection,
see addons/sharedstate.py): a local miss asks Redis in one round trip (core/sharedstate.py
names, edge/sharedstate.py `cache_lookup`), which also takes the lead for the key, so an
identical request in flight on another router is waited for (polled, bounded like a local
follower's wait; the lead has a short TTL its router renews, so a router that dies while
leading holds nobody long) instead of asked again. A finished answer is stored in both, with
the cache's TTL; an entry larger than `cache.max_bytes` in neither. Redis down: the local
cache alone.

Every answer to a request the cache looked at carries `X-HPN-Cache: HIT`, `MISS` or
`BYPASS` (not looked up: `Cache-Control: no-cache` or, without Cache-Control, HTTP/1.0's
`Pragma: no-cache`; or a sampled request with
`cache.cache_sampled: false`).

Usage:
    flash = FlashCache()
    addons = [Settings(consumers=[..., flash]), Endpoints(), CacheLookup(flash, {"responses": responses}), Translation(...),
              KeyRouting(state), CacheStore(flash), ...]
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.answers import answer_error, is_client_flow
from hpn_router.addons.cachehit import HEADER, HIT, CachedApi, answer_api_hit, answer_hit
from hpn_router.addons.chat import StreamAdapter, chat_request
from hpn_router.addons.flowcontext import CacheDecision, context
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import RouterConfig
from hpn_router.core.cachedanswer import AnswerCollector, answer_to_json
from hpn_router.core.cachekey import cache_key, is_cacheable, request_cache_directives
from hpn_router.core.errors import RouterError
from hpn_router.core.inbound.openai_chat_answer import (
    StreamCollector,
    usage_to_openai,
)
from hpn_router.core.model.answer import ChatAnswer
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.model.routing import route_model
from hpn_router.core.responsecache import CachedAnswer, InFlight, ResponseCache, answer_from_bytes, answer_to_bytes
from hpn_router.core.routes import Endpoint
from hpn_router.edge.sharedstate import RedisStore, StoreError

CHAT = Endpoint.CHAT.value
CHAT_PATH = "/v1/chat/completions"
# The path each cached API is keyed under: an entry never serves another API.
PATHS = {CHAT: CHAT_PATH, Endpoint.RESPONSES.value: "/v1/responses", Endpoint.MESSAGES.value: "/v1/messages"}
MISS, BYPASS = "MISS", "BYPASS"
# A follower of another router's request polls Redis, first soon, then at most this often.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.01, 0.2
# A lead in Redis lives this long unless its router renews it (every third of it): a router
# that dies while leading holds the others' identical requests for seconds, not for the
# whole wait a leader may legitimately take.
LEAD_SECONDS = 10.0


class FlashCache:
    """The entries and the in-flight table both cache addons use; rebuilt (emptied) only
    when the `cache` section of the config changes."""

    def __init__(self, *, shared: SharedPoolState | None = None, timer: Callable[[], float] = time.monotonic) -> None:
        self.timer = timer
        self.shared = shared  # its Redis connection, when routers share one
        self._renewals: dict[str, asyncio.Task[None]] = {}  # lead token -> the task renewing it
        self.config: RouterConfig | None = None
        self.entries: ResponseCache | None = None
        self.inflight = InFlight()
        self.wait_seconds = 120.0

    def apply(self, config: RouterConfig) -> None:
        c = config.cache
        if self.config is None or self.config.cache != c:
            self.entries = (
                ResponseCache(max_entries=c.max_entries, max_bytes=c.max_bytes, ttl_seconds=c.ttl_seconds, timer=self.timer)
                if c.enabled
                else None
            )
        self.config = config
        # Followers wait at most as long as the leader's attempts can take; then they ask
        # upstream themselves.
        self.wait_seconds = float(config.server.read_timeout_seconds * (config.key_pool.retry_count + 1))

    def release(self, decision: CacheDecision, answer: CachedAnswer | None) -> None:
        """A leader is done (answer None: it failed); its followers stop waiting."""
        if decision.leader and decision.key is not None:
            decision.leader = False
            self.inflight.finish(decision.key, answer)

    def redis(self) -> RedisStore | None:
        return self.shared.redis_store() if self.shared is not None and self.entries is not None else None

    async def finish_shared(self, decision: CacheDecision, answer: CachedAnswer | None) -> None:
        """Store a finished answer in Redis (if it fits the budget) and give up this flow's lead
        there; a Redis that fails now only costs the other routers a miss."""
        token, decision.shared_lead = decision.shared_lead, None
        renewal = self._renewals.pop(token, None) if token is not None else None
        if renewal is not None:
            renewal.cancel()
        store, config = self.redis(), self.config
        if store is None or config is None or decision.key is None:
            return
        payload = answer_to_bytes(answer) if answer is not None else None
        if payload is not None and self.entries is not None and not self.entries.fits(payload):
            payload = None
        try:
            await store.cache_finish(decision.key, token, payload, config.cache.ttl_seconds * 1000)
        except StoreError as e:
            self.redis_failed(e)

    def keep_lead(self, store: RedisStore, key: str, token: str) -> None:
        """Renew this router's lead for `key` until finish_shared, or at most as long as a
        leader's attempts can take."""

        async def renew() -> None:
            waited = 0.0
            while waited < self.wait_seconds:
                await asyncio.sleep(LEAD_SECONDS / 3)
                waited += LEAD_SECONDS / 3
                try:
                    if not await store.cache_renew(key, token, int(LEAD_SECONDS * 1000)):
                        break
                except StoreError:
                    break  # the lead lapses; a follower then asks upstream itself
            self._renewals.pop(token, None)

        self._renewals[token] = asyncio.get_running_loop().create_task(renew())

    def redis_failed(self, error: BaseException) -> None:
        if self.shared is not None:
            self.shared.redis_failed(error)


class CacheLookup:
    def __init__(self, flash: FlashCache, apis: dict[str, CachedApi] | None = None) -> None:
        self.flash = flash
        self.apis = apis or {}

    async def request(self, flow: http.HTTPFlow) -> None:
        ctx = context(flow)
        if flow.is_replay:
            ctx.cache = None  # a replay asks upstream again; never stored
            return
        if (ctx.route != CHAT and ctx.route not in self.apis) or not is_client_flow(flow):
            return
        try:
            await self._lookup(flow)
        except Exception:
            # Never raise out of a hook (later addons, redaction included, would be skipped);
            # the request goes upstream as if the cache did not exist.
            logger.exception("cache lookup failed")
            decision, ctx.cache = ctx.cache, None
            if decision:
                self.flash.release(decision, None)
                await self.flash.finish_shared(decision, None)

    async def _lookup(self, flow: http.HTTPFlow) -> None:
        config, entries = self.flash.config, self.flash.entries
        if config is None or entries is None:
            return
        ctx = context(flow)
        api = self.apis.get(ctx.route or "")
        request = _chat_request(flow) if api is None else _api_request(api, flow)
        if request is None:
            return  # the translator answers the 400
        if not is_cacheable(request, cache_sampled=config.cache.cache_sampled):
            ctx.cache = CacheDecision(BYPASS)
            return
        headers = flow.request.headers
        no_cache, no_store = request_cache_directives(headers.get("cache-control"), headers.get("pragma"))
        gemini_model = route_model(request.model, config.models, config.gemini.default_model, config.providers_with_keys()).model
        key = cache_key(request, upstream_model=gemini_model, endpoint=PATHS[ctx.route or CHAT], client_id=ctx.client)
        decision = ctx.cache = CacheDecision(BYPASS if no_cache else MISS, key=key, store=not no_store)
        if no_cache:
            return
        hit, coalesced = entries.get(key), False
        if (hit is not None or key in self.flash.inflight) and await self._client_refused(flow):
            return  # answered here or by this router's leader: the client's rate was checked alone
        if hit is None and key in self.flash.inflight:
            hit = await self._follow(key)
            coalesced = hit is not None
        if hit is None and decision.store and self.flash.inflight.begin(key):
            decision.leader = True  # CacheStore releases the followers in response/error
        if hit is None and (decision.leader or not decision.store):
            # Only this router's leader asks Redis (its local followers wait for it).
            hit, coalesced, refusal = await self._shared(flow, key, decision)
            if refusal is not None:
                self.flash.release(decision, None)  # this router's followers ask for themselves
                ctx.cache = None
                answer_error(flow, refusal)
                return
        if hit is not None and api is not None:
            answer_api_hit(flow, api, config, request, hit, coalesced=coalesced)
        elif hit is not None:
            answer_hit(flow, request, hit, coalesced=coalesced)

    async def _client_refused(self, flow: http.HTTPFlow) -> bool:
        """The client's shared rate, when still to check, checked alone; refused: its 429."""
        shared = self.flash.shared
        refusal = await shared.admit_client(flow) if shared is not None else None
        if refusal is not None:
            context(flow).cache = None
            answer_error(flow, refusal)
        return refusal is not None

    async def _shared(self, flow: http.HTTPFlow, key: str, decision: CacheDecision) -> tuple[CachedAnswer | None, bool, RouterError | None]:
        """(hit, coalesced, the client's refusal) from Redis: its entry, or the answer of another
        router's identical request in flight. The same round trip checks the client's shared
        rate first when still to check (refused: no entry, no lead). A hit is kept here too and
        handed to this router's followers."""
        store, entries, shared = self.flash.redis(), self.flash.entries, self.flash.shared
        if store is None or entries is None or shared is None:
            return None, False, None  # the client's rate, if still to check, goes with the quota gate
        pending = shared.take_client(flow)
        token = secrets.token_hex(16)
        try:
            raw, lead, checked = await store.cache_lookup(
                key, token, int(LEAD_SECONDS * 1000), lead=decision.leader, client=pending.window if pending is not None else None
            )
        except StoreError as e:
            return None, False, shared.client_failed_open(pending, e)
        if (refusal := shared.client_refusal(pending, checked)) is not None:
            return None, False, refusal
        try:
            if lead == 1:
                decision.shared_lead = token  # CacheStore stores the answer and gives the lead up
                self.flash.keep_lead(store, key, token)
            elif raw is None and lead == 2:
                raw = await self._follow_shared(store, key)
        except StoreError as e:
            self.flash.redis_failed(e)
            return None, False, None
        hit = answer_from_bytes(raw, self.flash.timer()) if raw is not None else None
        if hit is not None:
            entries.put(key, hit)
            self.flash.release(decision, hit)
        return hit, hit is not None and lead == 2, None

    async def _follow_shared(self, store: RedisStore, key: str) -> bytes | None:
        """Wait for another router's answer: poll until the entry appears, its lead is gone (it
        failed: this request goes upstream itself) or the wait a local follower would have is over."""
        delay, waited = FIRST_POLL_SECONDS, 0.0
        while waited < self.flash.wait_seconds:
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, MAX_POLL_SECONDS)
            raw, leading = await store.cache_poll(key)
            if raw is not None or not leading:
                return raw
        return None

    async def _follow(self, key: str) -> CachedAnswer | None:
        started = self.flash.timer()
        hit = await self.flash.inflight.wait(key, self.flash.wait_seconds)
        if hit is None and self.flash.timer() - started >= self.flash.wait_seconds:
            # The leader is stuck (intercepted in mitmweb, say): drop it, so later requests
            # do not queue behind it too. If it finishes after all, its answer goes to
            # whoever waits then, which is the answer to the same request.
            self.flash.inflight.finish(key, None)
        return hit


def _chat_request(flow: http.HTTPFlow) -> ChatRequest | None:
    try:
        return chat_request(flow)
    except (ValueError, RouterError):
        return None


def _api_request(api: CachedApi, flow: http.HTTPFlow) -> ChatRequest | None:
    try:
        return api.cached_request(flow)
    except (ValueError, RouterError):
        return None


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
