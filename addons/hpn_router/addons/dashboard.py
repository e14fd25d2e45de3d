"""Dashboard: a live page of the key pool at `GET /dashboard`, served by the router itself.

    GET  /dashboard          the page (HTML, JS and CSS inline: no CDN, works offline), or the
                             login form when the caller is not signed in
    GET  /dashboard/data     what the page polls every second (JSON; core/dashboard.dashboard_data)
    POST /dashboard/login    the form's admin token -> a session cookie, back to /dashboard
    POST /dashboard/logout   ends the session

Who may look: with `server.admin_token` set, a caller presenting it (`Authorization: Bearer`) or
holding a session cookie the login form set. The cookie's value is a random session id (never
the token), HttpOnly and SameSite=Strict; the data endpoint and the admin API (Access asks
`admin_session`) accept it only with the `X-HPN-Dashboard` header the page's fetch sends, which
a cross-site form cannot. Ten wrong tokens a minute (from anyone) make the form wait
(429). Without an admin token the page is open, read-only, like /metrics:
re-enabling a key needs the admin API, which needs the token.

`Dashboard` also feeds the page (late in `response`, beside Metrics): each client request the
metrics count goes into the minute history; each upstream attempt that failed into the key's
last error and the failover list; and the pool's key transitions (core/webhooks.TransitionWatch)
into the same list, checked a quarter of a second after a request with a failed attempt (once
for all such requests meanwhile) and on each poll.

With `state.redis_url` every router and worker on that Redis shows one dashboard: each process
writes what it recorded (minute counts, its failovers and the transitions it saw, last errors;
key names only) once a second in one pipelined round trip, off the request path, and the data
endpoint reads them all back in one round trip (plus this process's part not written yet). Redis
down: the data is this process's own and says so (`scope`: "degraded"). Login sessions are kept
there too (a digest of each), so a session opened on one worker counts on every other: the
session check of a request with the cookie (`session_check`, before Access) asks Redis.

Usage:
    dashboard = Dashboard(state, shared=shared_state)
    access = Access(admin_session=dashboard.admin_session)
    addons = [..., dashboard.session_check, access, health, MetricsEndpoint(metrics), dashboard.endpoint, admin, endpoints, ...,
              metrics, dashboard, ...]
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import math
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from decimal import Decimal
from importlib import resources

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error, answer_exception, answer_json, is_client_flow
from hpn_router.addons.flowcontext import context
from hpn_router.addons.metrics import answered_client_request
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import RouterConfig
from hpn_router.core.access import bearer_token, match_token
from hpn_router.core.classify import Verdict
from hpn_router.core.dashboard import (
    LastErrors,
    LoginThrottle,
    MinuteHistory,
    RecentEvents,
    Sessions,
    SharedHistory,
    dashboard_data,
    session_member,
)
from hpn_router.core.errors import Unauthorized
from hpn_router.core.redact import REDACTED
from hpn_router.core.routes import Endpoint, match
from hpn_router.core.state import RouterState
from hpn_router.core.webhooks import TransitionWatch, key_views
from hpn_router.edge.sharedstate import RedisStore, StoreError

COOKIE = "hpn_dashboard"
HEADER = "x-hpn-dashboard"  # sent by the page's fetch; a cross-site form or link cannot send it
CHECK_DELAY_SECONDS = 0.25
WRITE_SECONDS = 1.0  # how often each process writes its part of the history to Redis

_PAGE = resources.files("hpn_router.addons").joinpath("dashboard.html").read_text(encoding="utf-8")
_LOGIN = resources.files("hpn_router.addons").joinpath("dashboard_login.html").read_text(encoding="utf-8")


def _script_hashes(page: str) -> str:
    """The CSP sources of the page's inline scripts: their SHA-256, so no other script runs."""
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)


_PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "content-security-policy": (
        f"default-src 'none'; script-src {_script_hashes(_PAGE)}; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
_LOGIN_HEADERS = {
    **_PAGE_HEADERS,
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class Dashboard:
    def __init__(self, state: RouterState, *, clock: Callable[[], float] = time.time, shared: SharedPoolState | None = None) -> None:
        self.state = state
        self.clock = clock
        self.shared = shared
        self.admin_token = ""
        self.sessions = Sessions()
        self.throttle = LoginThrottle()
        self.history = MinuteHistory()
        self.events = RecentEvents()
        self.errors = LastErrors()
        self.watch = TransitionWatch()
        self.check_delay = CHECK_DELAY_SECONDS
        self._pending: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[None] | None = None
        self._redis_lock: asyncio.Lock | None = None  # a read never sees a write half done (nor counts it twice)
        # A request's session as Redis judged it (the session check, before Access), by flow.
        self.checked: weakref.WeakKeyDictionary[http.HTTPFlow, bool] = weakref.WeakKeyDictionary()
        self.endpoint = DashboardEndpoint(self)
        self.session_check = SessionCheck(self)

    def apply(self, config: RouterConfig) -> None:
        token = config.server.admin_token or ""
        if token != self.admin_token:
            self.sessions.clear()  # a new (or no) admin token: what the old one opened ends
        self.admin_token = token
        if self.state.pool is not None:
            self.errors.forget_except(key.name for key in self.state.pool.keys)
        self._check()  # the key states' baseline (or what a reload changed), before any request

    # -- who may look ----------------------------------------------------------------------

    def signed_in(self, flow: http.HTTPFlow, *, from_page: bool) -> bool:
        """The admin token as a bearer, or a session cookie (`from_page`: with the page's header)."""
        if not self.admin_token:
            return True
        if match_token(bearer_token(flow.request.headers.get("authorization")), (self.admin_token,)) is not None:
            return True
        return self._session_ok(flow, from_page=from_page)

    def admin_session(self, flow: http.HTTPFlow) -> bool:
        """For Access on /admin: a dashboard session, with the page's header (CSRF)."""
        return bool(self.admin_token) and self._session_ok(flow, from_page=True)

    def _session_ok(self, flow: http.HTTPFlow, *, from_page: bool) -> bool:
        if from_page and HEADER not in flow.request.headers:
            return False
        if flow in self.checked:  # Redis answered for every router (a logout anywhere counts)
            return self.checked[flow]
        return self.sessions.valid(flow.request.cookies.get(COOKIE), self.clock())

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
            admin_actions=bool(self.admin_token),
            views=views,
            shared=shared,
            redis_down=shared is None and self.shared is not None and self.shared.shared,
            counts=counts,
        )

    async def shared_data(self, store: RedisStore) -> dict[str, object]:
        """The data with every process's history (one round trip); this process's alone when
        Redis fails meanwhile."""
        pool = self.state.pool
        names = [key.name for key in pool.keys] if pool is not None else []
        try:
            async with self._lock():
                shared = await store.read_dashboard(int(self.clock() // 60), names)
        except StoreError as e:
            self._redis_failed(e)
            return self.data()
        # Each key's requests today and this minute, as every router counted them (one more trip).
        counts = await self.shared.request_counts(self.clock()) if self.shared is not None else None
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

    # -- sessions every router and worker on Redis accepts -----------------------------------

    async def open_session(self, store: RedisStore, now: float) -> str:
        """A session this process knows, and Redis for every other (one MULTI/EXEC)."""
        session = self.sessions.open(now)
        try:
            await store.open_session(session_member(self.admin_token, session), now + self.sessions.lifetime, now, self.sessions.capacity)
        except StoreError as e:  # this process still knows it: it works here
            self._redis_failed(e)
        return session

    async def close_session(self, store: RedisStore, session: str) -> None:
        try:
            await store.close_session(session_member(self.admin_token, session))
        except StoreError as e:
            self._redis_failed(e)

    async def check_session(self, flow: http.HTTPFlow, store: RedisStore, session: str) -> None:
        try:
            expiry = await store.session_expiry(session_member(self.admin_token, session))
        except StoreError as e:  # Redis failed: the sessions this process opened still count
            self._redis_failed(e)
            return
        self.checked[flow] = expiry is not None and expiry > self.clock()


class SessionCheck:
    """Before Access (`request`): a request for the dashboard or the admin API with a session
    cookie, while Redis is up, has its session looked up there (one ZSCORE), so a session opened
    or ended on any router or worker counts on this one. Other requests cost nothing."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        d = self.dashboard
        if not d.admin_token or not is_client_flow(flow):
            return None
        path = flow.request.path
        if not (path.startswith("/dashboard") or path.startswith("/admin")) or COOKIE not in flow.request.headers.get("cookie", ""):
            return None
        session, store = flow.request.cookies.get(COOKIE), d.store()
        if not session or store is None:
            return None
        return d.check_session(flow, store, session)


class DashboardEndpoint:
    """Answers /dashboard, /dashboard/data, /dashboard/login and /dashboard/logout (early in
    `request`, after Access)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Synchronous unless Redis is asked (the data, a login, a logout): then the awaitable."""
        if not is_client_flow(flow) or match(flow.request.method, flow.request.path).endpoint is not Endpoint.DASHBOARD:
            return None
        context(flow).local = True
        try:
            return self._answer(flow, flow.request.path.split("?", 1)[0].rstrip("/"))
        except Exception as e:  # never raise out of a hook
            answer_exception(flow, e, "show the dashboard")
        return None

    def _answer(self, flow: http.HTTPFlow, path: str) -> Awaitable[None] | None:
        d = self.dashboard
        if path == "/dashboard":
            page = _PAGE if d.signed_in(flow, from_page=False) else _LOGIN.replace("{{message}}", "")
            flow.response = http.Response.make(200, page, _PAGE_HEADERS if page is _PAGE else _LOGIN_HEADERS)
        elif path == "/dashboard/data":
            if not d.signed_in(flow, from_page=True):
                answer_error(
                    flow, Unauthorized("The dashboard needs a login (POST /dashboard/login) or Authorization: Bearer <server.admin_token>.")
                )
                return None
            store = d.store()
            if store is not None:
                return self._answer_shared(flow, store)
            answer_json(flow, 200, d.data(), {"cache-control": "no-store"})
        elif path == "/dashboard/login":
            return self._login(flow)
        else:  # /dashboard/logout
            flow.response = _see_dashboard(_cookie(flow, "", max_age=0))
            session = flow.request.cookies.get(COOKIE)
            d.sessions.close(session)
            store = d.store()
            if store is not None and session:
                return d.close_session(store, session)  # on every router and worker
        return None

    async def _answer_shared(self, flow: http.HTTPFlow, store: RedisStore) -> None:
        try:
            answer_json(flow, 200, await self.dashboard.shared_data(store), {"cache-control": "no-store"})
        except Exception as e:  # never raise out of a hook
            answer_exception(flow, e, "show the dashboard")

    def _login(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        d = self.dashboard
        if not d.admin_token:
            flow.response = _see_dashboard(None)  # open without a token: nothing to sign in to
            return None
        presented = flow.request.urlencoded_form.get("token")
        flow.request.content = b"token=" + REDACTED.encode()  # the flow (mitmweb, -w) keeps no admin token
        now = d.clock()
        wait = d.throttle.retry_after(now)
        if wait is not None:
            seconds = str(math.ceil(wait))
            page = _LOGIN.replace("{{message}}", f"Too many wrong tokens; try again in {seconds} s.")
            flow.response = http.Response.make(429, page, {**_LOGIN_HEADERS, "retry-after": seconds})
            return None
        if match_token(presented, (d.admin_token,)) is None:
            d.throttle.failed(now)
            peer = flow.client_conn.peername
            logger.bind(event="dashboard_login_failed").warning(
                "Dashboard login with a wrong admin token from {}", peer[0] if peer else "?"
            )
            flow.response = http.Response.make(401, _LOGIN.replace("{{message}}", "Wrong admin token."), _LOGIN_HEADERS)
            return None
        store = d.store()
        if store is None:
            flow.response = _see_dashboard(_cookie(flow, d.sessions.open(now), max_age=int(d.sessions.lifetime)))
            return None
        return self._signed_in(flow, store, now)

    async def _signed_in(self, flow: http.HTTPFlow, store: RedisStore, now: float) -> None:
        d = self.dashboard
        try:
            session = await d.open_session(store, now)
        except Exception as e:  # never raise out of a hook
            answer_exception(flow, e, "sign in to the dashboard")
            return
        flow.response = _see_dashboard(_cookie(flow, session, max_age=int(d.sessions.lifetime)))


def _see_dashboard(cookie: str | None) -> http.Response:
    headers = {"location": "/dashboard", "cache-control": "no-store"}
    response = http.Response.make(303, b"", headers)
    if cookie is not None:
        response.headers["set-cookie"] = cookie
    return response


def _cookie(flow: http.HTTPFlow, value: str, *, max_age: int) -> str:
    # Secure only when the page came over TLS: the router usually listens on plain http on loopback.
    secure = "; Secure" if flow.client_conn.tls_established else ""
    return f"{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
