"""Dashboard: a live page of the key pool at `GET /dashboard`, served by the router itself
(the endpoints: addons/dashboardendpoint.py; who may look: addons/dashboardsessions.py).

`Dashboard` feeds the page (late in `response`, beside Metrics): each client request the
metrics count goes into the minute history; each upstream attempt that failed into the key's
last error and the failover list; and the pool's key transitions (core/webhooks.TransitionWatch)
into the same list, checked a quarter of a second after a request with a failed attempt (once
for all such requests meanwhile) and on each poll.

With `state.redis_url` every router and worker on that Redis shows one dashboard: each process
writes what it recorded (minute counts, its failovers and the transitions it saw, last errors;
key names only) once a second in one pipelined round trip, off the request path, and the data
endpoint reads them all back, with each quota group's request counts, in one round trip (plus
this process's part not written yet). Redis down: the data is this process's own and says so
(`scope`: "degraded").

Usage:
    dashboard = Dashboard(state, shared=shared_state)
    access = Access(admin_session=dashboard.admin_session)
    addons = [..., dashboard.session_check, access, health, MetricsEndpoint(metrics), dashboard.endpoint, admin, endpoints, ...,
              metrics, dashboard, ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from decimal import Decimal

from loguru import logger
from mitmproxy import http

from hpn_router.addons.dashboardendpoint import DashboardEndpoint
from hpn_router.addons.dashboardsessions import DashboardLogin, SessionCheck
from hpn_router.addons.flowcontext import context
from hpn_router.addons.metrics import answered_client_request
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import RouterConfig
from hpn_router.core.classify import Verdict
from hpn_router.core.dashboard import SharedHistory, dashboard_data, quota_groups, shared_request_counts
from hpn_router.core.dashboarderrors import LastErrors
from hpn_router.core.dashboardevents import RecentEvents
from hpn_router.core.dashboardhistory import MinuteHistory
from hpn_router.core.quota import pacific_day
from hpn_router.core.state import RouterState
from hpn_router.core.webhooks import TransitionWatch, key_views
from hpn_router.edge.sharedstate import RedisStore, StoreError

CHECK_DELAY_SECONDS = 0.25
WRITE_SECONDS = 1.0  # how often each process writes its part of the history to Redis


class Dashboard:
    def __init__(self, state: RouterState, *, clock: Callable[[], float] = time.time, shared: SharedPoolState | None = None) -> None:
        self.state = state
        self.clock = clock
        self.shared = shared
        self.history = MinuteHistory()
        self.events = RecentEvents()
        self.errors = LastErrors()
        self.watch = TransitionWatch()
        self.check_delay = CHECK_DELAY_SECONDS
        self._pending: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[None] | None = None
        self._redis_lock: asyncio.Lock | None = None  # a read never sees a write half done (nor counts it twice)
        self.login = DashboardLogin(clock, store=self.store, redis_failed=self._redis_failed)
        self.endpoint = DashboardEndpoint(self)
        self.session_check = SessionCheck(self.login)

    def apply(self, config: RouterConfig) -> None:
        self.login.apply(config)
        if self.state.pool is not None:
            self.errors.forget_except(key.name for key in self.state.pool.keys)
        self._check()  # the key states' baseline (or what a reload changed), before any request

    def admin_session(self, flow: http.HTTPFlow) -> bool:
        """For Access on /admin: a dashboard session, with the page's header (CSRF)."""
        return self.login.admin_session(flow)

    def store(self) -> RedisStore | None:
        """The shared Redis while it is up; None without one, or while it is down."""
        return self.shared.redis_store() if self.shared is not None else None

    def _redis_failed(self, error: BaseException) -> None:
        if self.shared is not None:
            self.shared.redis_failed(error)

    # -- what it shows ---------------------------------------------------------------------

    def data(self, shared: SharedHistory | None = None, counts: dict[str, tuple[int, int]] | None = None) -> dict[str, object]:
        now = self.clock()
        pool = self.state.pool
        views = key_views(pool, now) if pool is not None else []
        if pool is not None:
            self.events.add_transitions(self.watch.observe(views, {}, now))
        return dashboard_data(
            pool,
            now,
            self.history,
            self.events,
            self.errors,
            admin_actions=bool(self.login.admin_token),
            views=views,
            shared=shared,
            redis_down=shared is None and self.shared is not None and self.shared.shared,
            counts=counts,
        )

    async def shared_data(self, store: RedisStore) -> dict[str, object]:
        """The data with every process's history and request counts (one round trip); this
        process's alone when Redis fails meanwhile."""
        pool = self.state.pool
        names = [key.name for key in pool.keys] if pool is not None else []
        groups = quota_groups(pool) if pool is not None else []
        now = self.clock()
        try:
            async with self._lock():
                shared = await store.read_dashboard(int(now // 60), names, groups, pacific_day(now))
        except StoreError as e:
            self._redis_failed(e)
            return self.data()
        counts = shared_request_counts(pool, shared.sends, now) if pool is not None else None
        return self.data(shared, counts)

    def _lock(self) -> asyncio.Lock:
        if self._redis_lock is None:
            self._redis_lock = asyncio.Lock()
        return self._redis_lock

    # -- writing this process's part to Redis ------------------------------------------------

    def running(self) -> None:
        if self.shared is not None and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def _write_loop(self) -> None:
        while True:
            await asyncio.sleep(WRITE_SECONDS)
            try:
                await self.write()
            except Exception:  # a bug here must not end the writes for good
                logger.exception("dashboard write failed")

    async def write(self) -> None:
        """What this process recorded since its last write, to Redis in one round trip (kept for
        the next one when Redis is down or fails)."""
        store = self.store()
        if store is None:
            return
        async with self._lock():
            minutes, events, errors = self.history.take_unsent(), self.events.take_unsent(), self.errors.take_unsent()
            if not (minutes or events or errors):
                return
            try:
                await store.write_dashboard(minutes, events, errors)
            except StoreError as e:
                self.history.give_back(minutes)
                self.events.give_back(events)
                self.errors.give_back(errors)
                self._redis_failed(e)

    # -- recording -----------------------------------------------------------------------------

    def response(self, flow: http.HTTPFlow) -> None:
        try:
            if answered_client_request(flow):
                self._record(flow)
        except Exception:  # never raise out of a hook: redaction runs after this addon
            logger.exception("dashboard failed")

    def _record(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        ctx = context(flow)
        usage = ctx.usage if ctx.usage is not None and ctx.attempt_log and flow.response.status_code == 200 else None
        self.history.record(
            self.clock(),
            status=flow.response.status_code,
            cache=ctx.cache.status if ctx.cache is not None else None,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            saved_usd=float(Decimal(ctx.saved_usd)) if ctx.saved_usd else 0.0,
        )
        if any(a.outcome.verdict is not Verdict.OK for a in ctx.attempt_log):
            self.errors.note(ctx.attempt_log)
            self.events.add_failover(ctx.attempt_log, ctx.model)
            if self._pending is None:  # the key transitions those failures made, once for all meanwhile
                self._pending = asyncio.get_running_loop().call_later(self.check_delay, self._pending_check)

    def _pending_check(self) -> None:
        self._pending = None
        self._check()

    def _check(self) -> None:
        try:
            pool = self.state.pool
            if pool is not None:
                now = self.clock()
                self.events.add_transitions(self.watch.observe(key_views(pool, now), {}, now))
        except Exception:
            logger.exception("dashboard check failed")

    async def done(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
            with contextlib.suppress(Exception):  # the last second's part (a worker drains and exits)
                await asyncio.wait_for(self.write(), 2.0)
