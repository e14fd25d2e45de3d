"""SharedPoolState: routers pointing at one Redis (`state.redis_url`) are one pool for key states
(cooldowns, per-day parking, disabled keys and why, operator re-enables), totals and budgets.

The in-memory pool stays what KeyRouting reads: no Redis round trip stands before an upstream
call but the flash cache's lookup and the quota gate (addons/sharedlimits.py). A router count is
heartbeated too, for Access' fail-open share of a client's rate.

What changed is pushed from the `response` hook of the request that changed it (one MULTI/EXEC
with a PUBLISH), before that client gets its answer; the other routers get the message over
pub/sub and adopt it at once, well within 100 ms.
A request that changed nothing still sent upstream: its send is pushed in the background
(addons/sharedsends.py).
Pub/sub loses messages while a router is disconnected, so every router also reads the whole state
back once a second (REFRESH_SECONDS) and pushes its totals then.

Redis down or slow (short socket timeouts): requests are served from the local pool, `/health`
says `"redis": "down"` and `degraded`, one warning is logged per outage. When Redis answers
again, local and shared state are merged (core/sharedstate.py `union`) and the listener resumes.

Beside the sync, one concern each: start-up (addons/sharedstartup.py StartupGate), totals on
demand for /health (addons/sharedtotals.py), config reloads told to every router
(addons/sharedreload.py), the shared limits (addons/sharedlimits.py) and requests sent
per quota group (addons/sharedsends.py). SharedPoolState hands
their entry points to the addons that call them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from decimal import Decimal

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error
from hpn_router.addons.flowcontext import context
from hpn_router.addons.sharedlimits import SharedLimits
from hpn_router.addons.sharedreload import SharedReloads
from hpn_router.addons.sharedsends import SharedSends
from hpn_router.addons.sharedstartup import StartupGate
from hpn_router.addons.sharedtotals import SharedTotals
from hpn_router.config import RouterConfig
from hpn_router.config.readers import redacted_redis_url
from hpn_router.core.sharedreload import router_name
from hpn_router.core.sharedstate import EMPTY, PoolDelta, apply, delta, restrict, union
from hpn_router.core.sharedtotals import rebase, saved_to_pico
from hpn_router.core.state import RouterState
from hpn_router.edge.sharedstate import RedisStore, StoreError

REFRESH_SECONDS = 1.0  # full read-back and totals push; also how often a down Redis is retried


class SharedPoolState:
    def __init__(self, state: RouterState, *, clock: Callable[[], float] = time.time, worker: int | None = None) -> None:
        self.state = state
        self.worker = worker
        self.name = router_name(socket.gethostname(), os.getpid(), worker)
        # A worker's supervisor (its parent process) by host and pid: its SIGHUP reaches every worker.
        self.supervisor = f"{socket.gethostname()} pid {os.getppid()}" if worker is not None else None
        self.peer_reload: Callable[[str], object] | None = None  # Admin's: reload for the router named
        self.clock = clock
        self.url: str | None = None
        self.store: RedisStore | None = None
        self.baseline = EMPTY  # the key states this router and Redis last agreed on
        self.epoch: str | None = None  # the data set's identity while connected; None while down
        self.known_epoch: str | None = None  # the last one seen: a plain outage keeps it
        self.synced_requests = 0  # the local totals as of the last push (Redis' sum then)
        self.synced_saved = Decimal(0)
        self._seen: tuple[int, int] = (0, -1)  # (id(pool), revision) last pushed
        self._lock: asyncio.Lock | None = None
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._outage_logged = False
        self.live_routers = 1  # routers heartbeating into Redis; remembered while it is down
        self._subscribed: asyncio.Event | None = None
        self.startup = StartupGate(self)  # a `request` hook of its own (router.py)
        self.totals = SharedTotals(self)
        self.reloads = SharedReloads(self)
        self.limits = SharedLimits(self)
        self.sends = SharedSends(self)
        # Their entry points, for the addons holding this object (Health, Admin, Access, the flash cache, the dashboard).
        self.request_counts = self.sends.request_counts
        self.fresh_totals = self.totals.fresh
        self.announce_reload = self.reloads.announce
        self.take_client, self.client_refusal = self.limits.take_client, self.limits.client_refusal
        self.client_failed_open, self.admit_client = self.limits.client_failed_open, self.limits.admit_client

    # -- lifecycle ------------------------------------------------------------------------

    def apply(self, config: RouterConfig) -> None:
        url = config.state.redis_url
        if url == self.url:
            return
        self._stop()
        self.url = url
        self.state.redis = None if url is None else "down"  # until the first sync succeeds
        with contextlib.suppress(RuntimeError):  # no loop yet at start-up: running() starts it
            asyncio.get_running_loop()
            self._start()

    def running(self) -> None:
        if self.url is not None and self._loop_task is None:
            self._start()

    async def done(self) -> None:
        if self.store is not None and self.state.redis == "up":
            with contextlib.suppress(*StoreError):
                await asyncio.wait_for(self.push_changes(), 2.0)  # the last requests' totals
        self._stop()

    def _start(self) -> None:
        assert self.url is not None
        self.store = RedisStore(self.url)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._run(self.store))
        logger.info("Sharing pool state through Redis", redis=redacted_redis_url(self.url))

    def _stop(self) -> None:
        self.sends.stop()
        for task in (self._loop_task, self._listener):
            if task is not None:
                task.cancel()
        if self.store is not None:
            with contextlib.suppress(RuntimeError):  # no loop: nothing was ever connected
                asyncio.get_running_loop().create_task(self.store.close())
        self._loop_task = self._listener = None
        self.store = None
        self.epoch = None

    # -- Redis up or down, for every addon that talks to it -------------------------------------

    @property
    def shared(self) -> bool:
        return self.url is not None

    def redis_store(self) -> RedisStore | None:
        """The connection, while Redis is up: when it is down, callers use their local copies
        and no request waits on a socket timeout."""
        return self.store if self.state.redis == "up" else None

    def redis_failed(self, error: BaseException) -> None:
        """A caller's command failed: Redis counts as down until the sync reaches it again."""
        self._down(error)

    # -- hooks ----------------------------------------------------------------------------

    async def response(self, flow: http.HTTPFlow) -> None:
        """A request the router answered itself (a 404, a 400, a stored Response) had no round
        trip to carry its client's rate: checked now, and a refused client gets its 429 instead.
        Then push what this request changed (a 429, a disabled key, a re-enable) before its
        client gets the answer, so the other routers know by the time anyone can react to it."""
        if flow is not None and context(flow).client_check is not None:  # (None: a pool-only sync, in tests)
            refusal = await self.admit_client(flow)
            if refusal is not None:
                answer_error(flow, refusal)
        pool = self.state.pool
        if pool is None or self.state.redis != "up":
            return
        if (id(pool), pool.revision) == self._seen:
            self.sends.flush_soon()
            return
        try:
            await self.push_changes()
        except StoreError as e:
            self._down(e)

    # -- sync -------------------------------------------------------------------------------

    async def push_changes(self) -> None:
        """Push the pool's changes since the baseline and the totals counted since the last push."""
        store, pool, lock = self.store, self.state.pool, self._lock
        if store is None or pool is None or lock is None:
            return
        async with lock:
            now = self.clock()
            seen = (id(pool), pool.revision)
            change = delta(restrict(self.baseline, *pool.shared_scope()), pool.saved_state(now), now)
            requests = self.state.total_requests - self.synced_requests
            saved_pico = saved_to_pico(self.state.total_saved - self.synced_saved)
            saved = Decimal(saved_pico) / Decimal("1e12")
            sent = pool.sent.take()
            try:
                shared_requests, shared_saved = await store.push(change, requests, saved_pico, sent)
            except BaseException:
                pool.sent.put_back(sent, self.clock())  # counted with the next push
                raise
            self.baseline = apply(self.baseline, change, self.clock())
            self.state.total_requests = rebase(self.state.total_requests, self.synced_requests, requests, shared_requests)
            self.state.total_saved = rebase(self.state.total_saved, self.synced_saved, saved, shared_saved)
            self.synced_requests, self.synced_saved = shared_requests, shared_saved
            self._seen = seen

    async def _run(self, store: RedisStore) -> None:
        while True:
            try:
                if self.epoch is None or await store.epoch() != self.epoch:
                    await self._merge(store)  # first contact, back after an outage, or Redis lost its data
                await self.push_changes()
                await self._take_remote(store)
                self.live_routers = max(1, await store.heartbeat(self.clock()))
            except StoreError as e:
                self._down(e)
            except Exception:  # a bug here must not end the sync for good
                logger.exception("Shared state sync failed")
            self.startup.merged.set()  # merged, or Redis is down: requests are served from the local pool either way
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), REFRESH_SECONDS)
            self._wake.clear()

    async def _merge(self, store: RedisStore) -> None:
        """Nobody knows what the other side missed: both keep the union (later deadlines, every
        disable); this router pushes what Redis lacks and adopts what it lacks itself."""
        epoch = await store.epoch()
        if epoch != self.known_epoch:
            await self._adopt_totals(store)  # this router's first contact, or Redis lost its data
        first_contact = self.known_epoch is None
        self.known_epoch = epoch
        if self._listener is None or self._listener.done():
            # Subscribed before the read: a change pushed meanwhile arrives as a message, not a second later.
            self._subscribed = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(store))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), REFRESH_SECONDS)
        if first_contact:
            await self.startup.before_first_read(store)
        remote = await store.read_all()
        pool = self.state.pool
        if pool is not None:
            now = self.clock()
            local = pool.saved_state(now)
            merged = union(local, remote, now)
            pool.adopt(delta(local, merged, now), now)
            self.baseline = remote  # so push_changes sends what Redis lacks
            await self.push_changes()
        self.epoch = epoch
        if first_contact:
            await self.startup.after_first_merge(store)
        if self.state.redis != "up":
            logger.bind(event="redis_up").info("Redis reachable; pool state shared", redis=redacted_redis_url(self.url or ""))
        self.state.redis = "up"
        self._outage_logged = False

    async def _adopt_totals(self, store: RedisStore) -> None:
        """Totals nobody can tell apart (restored from a state file, or kept by every router
        while Redis lost them): each is raised to the largest known, never added again."""
        assert self._lock is not None
        async with self._lock:
            requests, saved = self.state.total_requests, self.state.total_saved
            shared_requests, shared_saved = await store.raise_totals(requests, saved_to_pico(saved))
            self.state.total_requests = rebase(self.state.total_requests, requests, 0, shared_requests)
            self.state.total_saved = rebase(self.state.total_saved, saved, Decimal(0), shared_saved)
            self.synced_requests, self.synced_saved = shared_requests, shared_saved

    async def _take_remote(self, store: RedisStore) -> None:
        """The backstop for lost messages: adopt what changed in Redis since the baseline. Against
        the baseline from before the read: a change this router pushed or heard while the read
        was on its way is in the baseline already but maybe not in what was read, and must not
        read as undone (a cooldown lifted, a breaker closed)."""
        before = self.baseline
        remote = await store.read_all()
        self._adopt(delta(before, remote, self.clock()))

    async def _listen(self, store: RedisStore) -> None:
        try:
            await store.channel.listen(self._adopt, self.reloads.take_notice, self.totals.take_notice, self._subscribed)
        except StoreError as e:
            self._down(e)

    def _adopt(self, change: PoolDelta) -> None:
        pool = self.state.pool
        if not change or pool is None:
            return
        now = self.clock()
        pool.adopt(change, now)
        self.baseline = apply(self.baseline, change, now)

    def _down(self, error: BaseException) -> None:
        """Once per outage: a warning, /health degraded; the loop retries every REFRESH_SECONDS."""
        if not self._outage_logged:
            self._outage_logged = True
            logger.bind(event="redis_down").warning(
                "Redis unreachable; serving from this router's own pool state until it is back",
                redis=redacted_redis_url(self.url or ""),
                error=type(error).__name__,
            )
        self.state.redis = "down"
        self.epoch = None
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
