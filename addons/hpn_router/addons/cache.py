"""Flash cache: identical chat, Responses and Messages requests within `cache.ttl_seconds` are
answered by the router.

Two addons around the translation share one `FlashCache` (this module; router.py wires them):
`CacheLookup` (addons/cachelookup.py) runs before the translation in `request` and answers a hit
locally, or waits for an identical request already upstream; `CacheStore` (addons/cachestore.py)
runs after it and stores complete 200 answers. `FlashCache` holds what both use: the entries,
the table of requests in flight, and, with `state.redis_url`, the lead this router holds in
Redis for a request (renewed while it lasts) and the shared entry stored when it ends.

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
import time
from collections.abc import Callable

from hpn_router.addons.flowcontext import CacheDecision
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import RouterConfig
from hpn_router.core.responsecache import CachedAnswer, InFlight, ResponseCache, answer_to_bytes
from hpn_router.core.routes import Endpoint
from hpn_router.edge.sharedstate import RedisStore, StoreError

CHAT = Endpoint.CHAT.value
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
