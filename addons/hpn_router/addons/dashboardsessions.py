"""Who may look at the dashboard: with `server.admin_token` set, a caller presenting it
(`Authorization: Bearer`) or holding a session cookie the login form set. The cookie's value is a
random session id (never the token), HttpOnly and SameSite=Strict; the data endpoint and the
admin API (Access asks `admin_session`) accept it only with the `X-HPN-Dashboard` header the
page's fetch sends, which a cross-site form cannot. Without an admin token the page is open,
read-only, like /metrics.

With `state.redis_url` the sessions are kept there too (a digest of each, core/dashboardlogin.
session_member), so a session opened on one worker counts on every other: `SessionCheck`
(`request`, before Access) looks a request's session cookie up there.

Usage:
    login = DashboardLogin(clock, store=lambda: shared.redis_store(), redis_failed=shared.redis_failed)
    login.apply(config)                                   # a new admin token ends every session
    login.signed_in(flow, from_page=True)                 # the data endpoint's question
    addons = [..., SessionCheck(login), Access(admin_session=login.admin_session), ...]
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from mitmproxy import http

from hpn_router.addons.answers import is_client_flow
from hpn_router.config import RouterConfig
from hpn_router.core.access import bearer_token, match_token
from hpn_router.core.dashboardlogin import LoginThrottle, Sessions, session_member
from hpn_router.edge.sharedstate import RedisStore, StoreError

COOKIE = "hpn_dashboard"
HEADER = "x-hpn-dashboard"  # sent by the page's fetch; a cross-site form or link cannot send it


class DashboardLogin:
    """The admin token, this process's sessions, the failed-login throttle, and the sessions
    Redis vouched for (by flow, the session check's answer)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        store: Callable[[], RedisStore | None] = lambda: None,
        redis_failed: Callable[[BaseException], None] = lambda error: None,
    ) -> None:
        self.clock = clock
        self.store = store  # the shared Redis while it is up, else None
        self.redis_failed = redis_failed
        self.admin_token = ""
        self.sessions = Sessions()
        self.throttle = LoginThrottle()
        # A request's session as Redis judged it (the session check, before Access), by flow.
        self.checked: weakref.WeakKeyDictionary[http.HTTPFlow, bool] = weakref.WeakKeyDictionary()

    def apply(self, config: RouterConfig) -> None:
        token = config.server.admin_token or ""
        if token != self.admin_token:
            self.sessions.clear()  # a new (or no) admin token: what the old one opened ends
        self.admin_token = token

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

    # -- sessions every router and worker on Redis accepts -----------------------------------

    async def open_session(self, store: RedisStore, now: float) -> str:
        """A session this process knows, and Redis for every other (one MULTI/EXEC)."""
        session = self.sessions.open(now)
        try:
            await store.open_session(session_member(self.admin_token, session), now + self.sessions.lifetime, now, self.sessions.capacity)
        except StoreError as e:  # this process still knows it: it works here
            self.redis_failed(e)
        return session

    async def close_session(self, store: RedisStore, session: str) -> None:
        try:
            await store.close_session(session_member(self.admin_token, session))
        except StoreError as e:
            self.redis_failed(e)

    async def check_session(self, flow: http.HTTPFlow, store: RedisStore, session: str) -> None:
        try:
            expiry = await store.session_expiry(session_member(self.admin_token, session))
        except StoreError as e:  # Redis failed: the sessions this process opened still count
            self.redis_failed(e)
            return
        self.checked[flow] = expiry is not None and expiry > self.clock()


class SessionCheck:
    """Before Access (`request`): a request for the dashboard or the admin API with a session
    cookie, while Redis is up, has its session looked up there (one ZSCORE), so a session opened
    or ended on any router or worker counts on this one. Other requests cost nothing."""

    def __init__(self, login: DashboardLogin) -> None:
        self.login = login

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        login = self.login
        if not login.admin_token or not is_client_flow(flow):
            return None
        path = flow.request.path
        if not (path.startswith("/dashboard") or path.startswith("/admin")) or COOKIE not in flow.request.headers.get("cookie", ""):
            return None
        session, store = flow.request.cookies.get(COOKIE), login.store()
        if not session or store is None:
            return None
        return login.check_session(flow, store, session)
