"""The flash cache's lookup (see addons/cache.py), before the translation in `request`.

`CacheLookup` runs after Endpoints and before ChatTranslation: it keys the client's request as
the ChatRequest model (model name mapped, see core/cachekey.py; read once, ChatTranslation takes
the same object from the flow's context) and answers a hit locally, as JSON or as an SSE stream,
without touching a key or the upstream (addons/cachehit.py renders it). While an identical
request is already upstream, it waits for that answer instead (coalescing).

The Responses and Messages APIs (`apis`: their translators, see `CachedApi`) are looked up the
same way; a hit is rendered by the API's translator: a fresh Response or Message, streamed or
not as this request asks. The endpoint is part of the key, so an answer only ever serves the
API it was asked on.

With `state.redis_url`, routers sharing one Redis share the cache (SharedPoolState's connection,
see addons/sharedstate.py): a local miss asks Redis in one round trip (core/sharedstate.py
names, edge/sharedstate.py `cache_lookup`), which also takes the lead for the key, so an
identical request in flight on another router is waited for (polled, bounded like a local
follower's wait; the lead has a short TTL its router renews, so a router that dies while
leading holds nobody long) instead of asked again. Redis down: the local cache alone.
"""

from __future__ import annotations

import asyncio
import secrets

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error, is_client_flow
from hpn_router.addons.cache import CHAT, LEAD_SECONDS, FlashCache
from hpn_router.addons.cachehit import CachedApi, answer_api_hit, answer_hit
from hpn_router.addons.chat import chat_request
from hpn_router.addons.flowcontext import CacheDecision, context
from hpn_router.core.cachekey import cache_key, is_cacheable, request_cache_directives
from hpn_router.core.errors import RouterError
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.model.routing import route_model
from hpn_router.core.responsecache import CachedAnswer, answer_from_bytes
from hpn_router.core.routes import Endpoint
from hpn_router.edge.sharedstate import RedisStore, StoreError

CHAT_PATH = "/v1/chat/completions"
# The path each cached API is keyed under: an entry never serves another API.
PATHS = {CHAT: CHAT_PATH, Endpoint.RESPONSES.value: "/v1/responses", Endpoint.MESSAGES.value: "/v1/messages"}
MISS, BYPASS = "MISS", "BYPASS"
# A follower of another router's request polls Redis, first soon, then at most this often.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.01, 0.2


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
