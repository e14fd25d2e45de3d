"""SharedPoolState: routers pointing at one Redis (`state.redis_url`) are one pool for key states
(cooldowns, per-day parking, disabled keys and why, operator re-enables), totals and budgets.

The in-memory pool stays what KeyRouting reads. Before an upstream call a request makes at most
two Redis round trips, each one EVALSHA: the flash cache's lookup (addons/cache.py) and the quota
gate (`admit_quota`), the latter only for a key whose project has a budget for the model: it
checks and counts the budget for every router, and the pool adopts what they all spent. A
client's shared rate (`server.client_rpm`, Access) costs no trip of its own: Access leaves it in
the flow's context (`PendingClient`) and the first of those trips checks it first, in the same
script (refused: no cache lead, no budget counted, 429); when neither runs, it goes alone
(`admit_client`), before the upstream call or, for a request the router answers itself, in
`response`. A router count is heartbeated too, for Access' fail-open share of a client's rate.

What changed is pushed from the `response` hook of the request that changed it (one MULTI/EXEC
with a PUBLISH), before that client gets its answer; the other routers get the message over
pub/sub and adopt it at once, well within 100 ms.
A request that changed nothing still sent upstream: its send is added to the shared per-group
counts (the admin API's requests_today and requests_last_minute) by a push in the background,
after its client got the answer (`_flush_sends`: one push at a time, the sends of concurrent
requests ride together, at most one every SEND_FLUSH_SECONDS).
Pub/sub loses messages while a router is disconnected, so every router also reads the whole state
back once a second (REFRESH_SECONDS) and pushes its totals then.

Config reloads travel on the same channel: `announce_reload` tells the other routers that an
operator reloaded this one, and each of them reloads its own config (`peer_reload`, which Admin
sets) once per notice, without announcing it again.

Redis down or slow (short socket timeouts): requests are served from the local pool, `/health`
says `"redis": "down"` and `degraded`, one warning is logged per outage. When Redis answers
again, local and shared state are merged (core/sharedstate.py `union`) and the listener resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error
from hpn_router.addons.flowcontext import PendingClient, context
from hpn_router.config import RouterConfig
from hpn_router.config.readers import redacted_redis_url
from hpn_router.core.access import ClientCount, minute_bucket
from hpn_router.core.errors import RouterError
from hpn_router.core.failover import QuotaGate
from hpn_router.core.quota import pacific_day
from hpn_router.core.sharedstate import (
    EMPTY,
    NoticeFilter,
    PoolDelta,
    ReloadNotice,
    TotalsNotice,
    announces,
    apply,
    delta,
    quota_keys,
    rebase,
    restrict,
    router_name,
    saved_to_pico,
    sent_counts,
    siblings_of,
    union,
)
from hpn_router.core.state import RouterState
from hpn_router.core.transport import UpstreamRequest
from hpn_router.edge.sharedstate import RedisStore, StoreError

DAY_SECONDS = 86400.0  # a day counter outlives its Pacific day by an hour (a 25-hour day at DST)
REFRESH_SECONDS = 1.0  # full read-back and totals push; also how often a down Redis is retried
# At start-up a request waits at most this long for the router's first merge with Redis, and a
# supervisor's worker 1..N-1 as long for worker 0 to share what it restored from the state file.
STARTUP_WAIT_SECONDS = 5.0
STARTED_POLL_SECONDS = 0.05
TOTALS_WAIT_SECONDS = 0.5  # /health waits at most this long for the other routers to push their totals
SEND_FLUSH_SECONDS = 0.05  # sends pushed at most this often in the background (under load they batch)


class SharedPoolState:
    def __init__(self, state: RouterState, *, clock: Callable[[], float] = time.time, worker: int | None = None) -> None:
        self.state = state
        self.worker = worker
        self.name = router_name(socket.gethostname(), os.getpid(), worker)
        # A worker's supervisor (its parent process) by host and pid: its SIGHUP reaches every worker.
        self.supervisor = f"{socket.gethostname()} pid {os.getppid()}" if worker is not None else None
        self.notices = NoticeFilter(self.supervisor)
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
        self._flusher: asyncio.Task[None] | None = None
        self._outage_logged = False
        self.live_routers = 1  # routers heartbeating into Redis; remembered while it is down
        self._merged = asyncio.Event()  # the first merge with Redis is done (or Redis was found down)
        self._subscribed: asyncio.Event | None = None
        self._totals_asks: dict[str, _TotalsAsk] = {}  # this router's pending asks, by id
        self._tasks: set[asyncio.Task[None]] = set()
        self.startup = StartupGate(self)

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
        for task in (self._loop_task, self._listener, self._flusher):
            if task is not None:
                task.cancel()
        if self.store is not None:
            with contextlib.suppress(RuntimeError):  # no loop: nothing was ever connected
                asyncio.get_running_loop().create_task(self.store.close())
        self._loop_task = self._listener = self._flusher = None
        self.store = None
        self.epoch = None

    # -- for the flash cache and stored Responses ----------------------------------------------

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
            if pool.sent and (self._flusher is None or self._flusher.done()):
                self._flusher = asyncio.get_running_loop().create_task(self._flush_sends())
            return
        try:
            await self.push_changes()
        except StoreError as e:
            self._down(e)

    async def _flush_sends(self) -> None:
        """Push the sends tallied since the last push, and again while more come in (spaced out:
        under load one push carries the sends of many requests)."""
        while (pool := self.state.pool) is not None and pool.sent and self.state.redis == "up":
            try:
                await self.push_changes()
            except StoreError as e:
                self._down(e)
                return
            await asyncio.sleep(SEND_FLUSH_SECONDS)

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
            self._merged.set()  # merged, or Redis is down: requests are served from the local pool either way
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
        if first_contact and self.worker not in (None, 0):
            await self._await_worker_zero(store)
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
        if first_contact and self.worker == 0 and self.supervisor is not None:
            await store.mark_started(self.supervisor)  # the other workers may read what it restored now
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

    async def _await_worker_zero(self, store: RedisStore) -> None:
        """Worker 0 alone restores the state file: another worker of the same supervisor reads
        the shared state once worker 0 has pushed it (bounded: a worker 0 that cannot start
        must not keep the others from serving)."""
        assert self.supervisor is not None
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        while not await store.started(self.supervisor) and time.monotonic() < deadline:
            await asyncio.sleep(STARTED_POLL_SECONDS)

    async def _listen(self, store: RedisStore) -> None:
        try:
            await store.listen(self._adopt, self._take_notice, self._take_totals, self._subscribed)
        except StoreError as e:
            self._down(e)

    # -- start-up -----------------------------------------------------------------------------

    def ready(self) -> bool:
        """Whether requests may be served: no Redis to share with, or the first merge is done."""
        return self.url is None or self._merged.is_set()

    async def wait_ready(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._merged.wait(), STARTUP_WAIT_SECONDS)

    # -- totals on demand (/health) ---------------------------------------------------------------

    async def fresh_totals(self) -> None:
        """Before /health shows totals: every router pushes what it counted since its last push
        (asked over pub/sub; waited for at most TOTALS_WAIT_SECONDS), then this one pushes its own
        and takes the sums, so the totals include every request answered before this one."""
        store = self.redis_store()
        if store is None:
            return
        ask = _TotalsAsk(secrets.token_hex(8))
        self._totals_asks[ask.ask] = ask
        try:
            ask.expected = await store.publish_totals(ask.ask, pushed=False)
            ask.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ask.done.wait(), TOTALS_WAIT_SECONDS)
            await self.push_changes()
        except StoreError as e:
            self._down(e)
        finally:
            del self._totals_asks[ask.ask]

    def _take_totals(self, notice: TotalsNotice) -> None:
        if self.store is None or notice.sender == self.store.sender:
            return
        if notice.pushed:
            if (ask := self._totals_asks.get(notice.ask)) is not None:
                ask.answered += 1
                ask.check()
            return
        task = asyncio.get_running_loop().create_task(self._push_for(self.store, notice.ask))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_for(self, store: RedisStore, ask: str) -> None:
        """Another router asked for the totals: push them, then say so."""
        try:
            await self.push_changes()
            await store.publish_totals(ask, pushed=True)
        except StoreError as e:
            self._down(e)

    def _adopt(self, change: PoolDelta) -> None:
        pool = self.state.pool
        if not change or pool is None:
            return
        now = self.clock()
        pool.adopt(change, now)
        self.baseline = apply(self.baseline, change, now)

    # -- requests sent, for the admin API ------------------------------------------------------

    async def request_counts(self, now: float) -> dict[str, tuple[int, int]] | None:
        """Each quota group's (requests today, requests in the last minute) on every router:
        one MGET, plus what this router has not pushed yet. None when not shared, or Redis is
        down (the caller shows this router's own counts)."""
        pool, store = self.state.pool, self.redis_store()
        if pool is None or store is None:
            return None
        groups = sorted({pool.group(i) for i in range(len(pool.keys))})
        minute = minute_bucket(now)[0]
        try:
            shared = await store.sent_counts(groups, minute, pacific_day(now))
        except StoreError as e:
            self._down(e)
            return None
        return {group: sent_counts(shared[group], pool.sent.counts(group, now), now) for group in groups}

    # -- a client's shared rate, carried by the request's first round trip ------------------------

    def take_client(self, flow: http.HTTPFlow) -> PendingClient | None:
        """The flow's client check still to make, now handed to the caller's round trip."""
        ctx = context(flow)
        pending, ctx.client_check = ctx.client_check, None
        return pending

    @staticmethod
    def client_refusal(pending: PendingClient | None, checked: ClientCount | None) -> RouterError | None:
        """The 429 when the round trip that carried the check refused the client."""
        if pending is None or checked is None or checked[0]:
            return None
        return pending.window.refusal(checked[1], checked[2])

    def client_failed_open(self, pending: PendingClient | None, error: BaseException) -> RouterError | None:
        """The round trip carrying the check failed: Redis counts as down, and the client is
        checked against this router's share of its limit."""
        self._down(error)
        return pending.local() if pending is not None else None

    async def admit_client(self, flow: http.HTTPFlow) -> RouterError | None:
        """The flow's client check alone (one EVALSHA), when no other round trip carries it;
        None when admitted or nothing was left to check."""
        return await self._check_client(self.take_client(flow))

    async def _check_client(self, pending: PendingClient | None) -> RouterError | None:
        if pending is None:
            return None
        store = self.redis_store()
        if store is None:
            return pending.local()
        try:
            checked = await store.admit_client(pending.window)
        except StoreError as e:
            return self.client_failed_open(pending, e)
        return self.client_refusal(pending, checked)

    # -- config reloads ---------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        return self.url is not None

    async def announce_reload(self, trigger: str) -> int | None:
        """Tell the other routers an operator reloaded this one; how many routers got the notice,
        0 when this reload is not told (a peer's, or a SIGHUP another worker tells), None when
        Redis is down (logged: the others keep their config until reloaded)."""
        store = self.store
        if store is None or not announces(trigger, self.worker):
            return 0
        if self.state.redis == "up":
            try:
                return await store.publish_reload(self.name, siblings_of(trigger, self.worker, self.supervisor or ""))
            except StoreError as e:
                self._down(e)
        logger.bind(event="config_reload_not_shared", trigger=trigger).warning(
            "Redis is down: the other routers were not told to reload; reload each of them", redis=redacted_redis_url(self.url or "")
        )
        return None

    def _take_notice(self, notice: ReloadNotice) -> None:
        """Another router was reloaded by an operator: reload this one too, once, outside the
        listener (a reload may replace the Redis connection it reads from)."""
        if self.store is None or self.peer_reload is None or not self.notices.follows(notice, self.store.sender):
            return
        asyncio.get_running_loop().call_soon(self.peer_reload, notice.origin)

    async def admit_quota(self, index: int, request: UpstreamRequest, now: float, flow: http.HTTPFlow | None = None) -> bool | RouterError:
        """The quota gate (core/failover.QuotaGate): one EVALSHA checks and counts the chosen
        key's budget for every router (the flow's client check first, when still to make); the
        pool adopts what all of them spent. Redis down, or no budget known for the key:
        admitted (the pool's own counts decided already). A refused client: its 429."""
        pending = self.take_client(flow) if flow is not None else None
        pool, store = self.state.pool, self.redis_store()
        quota = pool.quota_of(index, request.model) if pool is not None else None
        if pool is None or store is None or quota is None:
            return await self._check_client(pending) or True
        slot, limits = quota
        minute, elapsed = minute_bucket(now)
        keys = quota_keys(slot, minute, pacific_day(now))
        try:
            admitted, minute_requests, day_requests, minute_tokens, checked = await store.admit_quota(
                keys,
                (limits.rpm or 0, limits.rpd or 0, limits.tpm or 0),
                elapsed,
                len(request.body) // 4,
                DAY_SECONDS + 3600,
                client=pending.window if pending is not None else None,
            )
        except StoreError as e:
            return self.client_failed_open(pending, e) or True
        refusal = self.client_refusal(pending, checked)
        if refusal is not None:
            return refusal
        pool.adopt_usage(index, request.model, now, minute_requests, day_requests, minute_tokens)
        return admitted

    def quota_gate(self, flow: http.HTTPFlow) -> QuotaGate | None:
        """The gate KeyRouting hands the attempt loop for `flow`: while Redis is shared and up,
        or while the flow's client check is still to make (Redis went down since: checked here)."""
        if (self.store is not None and self.state.redis == "up") or context(flow).client_check is not None:
            return lambda index, request, now: self.admit_quota(index, request, now, flow)
        return None

    def down(self, error: BaseException) -> None:
        """A request's own Redis call failed: later requests use local state until the sync
        loop reaches Redis again."""
        self._down(error)

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


class _TotalsAsk:
    """One /health's ask: done once every other router that got it said it pushed."""

    def __init__(self, ask: str) -> None:
        self.ask = ask
        self.expected: int | None = None  # known once the ask is published (answers may come first)
        self.answered = 0
        self.done = asyncio.Event()

    def check(self) -> None:
        if self.expected is not None and self.answered >= self.expected:
            self.done.set()


class StartupGate:
    """First among the `request` hooks that read the pool (router.py): with Redis, a request that
    arrives before the router's first merge waits for it (at most STARTUP_WAIT_SECONDS), so a
    worker started beside others never answers from a pool that lacks their state; /health too,
    so a worker answers /health only once ready."""

    def __init__(self, shared: SharedPoolState) -> None:
        self.shared = shared

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        return None if self.shared.ready() else self.shared.wait_ready()
