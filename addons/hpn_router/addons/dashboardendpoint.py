"""The dashboard's endpoints (early in `request`, after Access): the page, the data it polls,
the login form and the logout.

    GET  /dashboard          the page (HTML, JS and CSS inline: no CDN, works offline), or the
                             login form when the caller is not signed in
    GET  /dashboard/data     what the page polls every second (JSON; core/dashboard.dashboard_data)
    POST /dashboard/login    the form's admin token -> a session cookie, back to /dashboard
    POST /dashboard/logout   ends the session

Who may look is addons/dashboardsessions.py. Ten wrong tokens a minute at the form (from anyone)
make it wait (429). The page runs only its own inline scripts (a CSP with their SHA-256).

Usage:
    endpoint = DashboardEndpoint(dashboard)               # Dashboard builds it: dashboard.endpoint
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Awaitable
from importlib import resources
from typing import TYPE_CHECKING

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error, answer_exception, answer_json, is_client_flow
from hpn_router.addons.dashboardsessions import COOKIE
from hpn_router.addons.flowcontext import context
from hpn_router.core.access import match_token
from hpn_router.core.errors import Unauthorized
from hpn_router.core.redact import REDACTED
from hpn_router.core.routes import Endpoint, match
from hpn_router.edge.sharedstate import RedisStore

if TYPE_CHECKING:
    from hpn_router.addons.dashboard import Dashboard

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
            page = _PAGE if d.login.signed_in(flow, from_page=False) else _LOGIN.replace("{{message}}", "")
            flow.response = http.Response.make(200, page, _PAGE_HEADERS if page is _PAGE else _LOGIN_HEADERS)
        elif path == "/dashboard/data":
            if not d.login.signed_in(flow, from_page=True):
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
            d.login.sessions.close(session)
            store = d.store()
            if store is not None and session:
                return d.login.close_session(store, session)  # on every router and worker
        return None

    async def _answer_shared(self, flow: http.HTTPFlow, store: RedisStore) -> None:
        try:
            answer_json(flow, 200, await self.dashboard.shared_data(store), {"cache-control": "no-store"})
        except Exception as e:  # never raise out of a hook
            answer_exception(flow, e, "show the dashboard")

    def _login(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        d, login = self.dashboard, self.dashboard.login
        if not login.admin_token:
            flow.response = _see_dashboard(None)  # open without a token: nothing to sign in to
            return None
        presented = flow.request.urlencoded_form.get("token")
        flow.request.content = b"token=" + REDACTED.encode()  # the flow (mitmweb, -w) keeps no admin token
        now = d.clock()
        wait = login.throttle.retry_after(now)
        if wait is not None:
            seconds = str(math.ceil(wait))
            page = _LOGIN.replace("{{message}}", f"Too many wrong tokens; try again in {seconds} s.")
            flow.response = http.Response.make(429, page, {**_LOGIN_HEADERS, "retry-after": seconds})
            return None
        if match_token(presented, (login.admin_token,)) is None:
            login.throttle.failed(now)
            peer = flow.client_conn.peername
            logger.bind(event="dashboard_login_failed").warning(
                "Dashboard login with a wrong admin token from {}", peer[0] if peer else "?"
            )
            flow.response = http.Response.make(401, _LOGIN.replace("{{message}}", "Wrong admin token."), _LOGIN_HEADERS)
            return None
        store = d.store()
        if store is None:
            flow.response = _see_dashboard(_cookie(flow, login.sessions.open(now), max_age=int(login.sessions.lifetime)))
            return None
        return self._signed_in(flow, store, now)

    async def _signed_in(self, flow: http.HTTPFlow, store: RedisStore, now: float) -> None:
        login = self.dashboard.login
        try:
            session = await login.open_session(store, now)
        except Exception as e:  # never raise out of a hook
            answer_exception(flow, e, "sign in to the dashboard")
            return
        flow.response = _see_dashboard(_cookie(flow, session, max_age=int(login.sessions.lifetime)))


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
