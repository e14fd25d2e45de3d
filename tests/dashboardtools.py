"""Helpers for the dashboard's tests: attempts and pools for the pure core, and routers made of
the dashboard's addons (Access, the Dashboard, Admin and Endpoints as router.py orders them; with
Redis, one per worker on a real redis-server)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time

from hpn_router.addons.access import Access
from hpn_router.addons.admin import Admin
from hpn_router.addons.dashboard import Dashboard
from hpn_router.addons.dashboardsessions import COOKIE
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import CacheDecision, UpstreamPlan, context
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import KeyConfig, parse_config
from hpn_router.core.attempts import Attempt
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.model.answer import Usage
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow

M = "gemini-2.5-flash"
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)
RATE_LIMITED = Outcome(Verdict.RATE_LIMITED, "429 per-minute quota", retry_after=30)
ADMIN = "dashboard-admin-token-0123456789abcdef"
KEY_VALUES = ["AIzaSyDashKeyAlphaAaaaaaaaaaaaaaaaaaaaa", "AIzaSyDashKeyBetaBbbbbbbbbbbbbbbbbbbbbbb"]
BEARER = {"authorization": f"Bearer {ADMIN}"}


# -- the pure core ----------------------------------------------------------------------------


def attempt(number: int, key: str, outcome: Outcome, status: int | None, at: float) -> Attempt:
    return Attempt(number, number - 1, key, status, outcome, at, at + 0.1)


def pool_of(n: int) -> tuple[KeyPool, list[str]]:
    values = [f"AIzaSyDashboard{i:03d}" + "x" * 24 for i in range(n)]
    keys = [KeyConfig(name=f"key_{i}", key=v, project=f"proj_{i // 2}") for i, v in enumerate(values)]
    return KeyPool(keys, cooldown_seconds=60), values


# -- one router's dashboard addons -------------------------------------------------------------


class Router:
    """Access, the Dashboard, Admin and Endpoints as router.py orders them, on one config."""

    def __init__(self, admin_token: str = ADMIN) -> None:
        self.now = T0
        self.config = config(admin_token)
        self.state = RouterState(pool=KeyPool(self.config.key_pool.keys, cooldown_seconds=60))
        self.dashboard = Dashboard(self.state, clock=lambda: self.now)
        self.access = Access(admin_session=self.dashboard.admin_session)
        self.admin = Admin(self.state, lambda **kw: None, clock=lambda: self.now)
        self.endpoints = Endpoints()
        self.apply(self.config)

    def apply(self, cfg) -> None:
        for addon in (self.access, self.dashboard, self.endpoints):
            addon.apply(cfg)

    def send(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> http.HTTPFlow:
        flow = tflow.tflow()
        flow.request.method, flow.request.path, flow.request.content = method, path, body
        flow.request.headers.clear()
        flow.request.headers.update(headers or {})
        with taddons.context():
            self.access.request(flow)
            self.dashboard.endpoint.request(flow)
            asyncio.run(self.admin.request(flow))  # async: a reload may tell the other routers
            self.endpoints.request(flow)
        return flow

    def login(self, token: str = ADMIN) -> http.HTTPFlow:
        return self.send(
            "POST", "/dashboard/login", headers={"content-type": "application/x-www-form-urlencoded"}, body=f"token={token}".encode()
        )


def config(admin_token: str = ADMIN):
    keys = [{"name": f"key_{i + 1}", "key": v} for i, v in enumerate(KEY_VALUES)]
    return parse_config({"server": {"admin_token": admin_token}, "key_pool": {"keys": keys, "state_file": ""}}, {})


def session_of(flow: http.HTTPFlow) -> str:
    cookie = flow.response.headers["set-cookie"]
    return cookie.split(";", 1)[0].split("=", 1)[1]


def signed_in(router: Router) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={session_of(router.login())}", "x-hpn-dashboard": "1"}


def answered_chat(attempts: list[Attempt], status: int = 200) -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.path = "/v1/chat/completions"
    flow.response.status_code = status
    ctx = context(flow)
    ctx.route, ctx.model = "chat", "gpt-4o"
    ctx.upstream = UpstreamPlan("POST", f"/v1beta/models/{M}:generateContent", "", False, M)
    ctx.attempt_log = attempts
    ctx.cache = CacheDecision("MISS")
    ctx.usage = Usage(input_tokens=11, output_tokens=5)
    ctx.saved_usd = "0.25"
    return flow


FAILOVER = [
    Attempt(1, 0, "key_1", 429, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0 + 0.1, T0 + 0.3),
    Attempt(2, 1, "key_2", 200, Outcome(Verdict.OK, "ok"), T0 + 0.4, T0 + 1.4),
]


# -- every router and worker on one Redis -------------------------------------------------------


class SharedRouter:
    """A router with `state.redis_url`: its Dashboard, session check, Access and endpoint on a
    SharedPoolState connected to a real redis-server (each one stands for a worker)."""

    def __init__(self, url: str) -> None:
        cfg = parse_config(
            {
                "server": {"admin_token": ADMIN},
                "key_pool": {"keys": [{"name": f"key_{i + 1}", "key": v} for i, v in enumerate(KEY_VALUES)], "state_file": ""},
                "state": {"redis_url": url},
            },
            {},
        )
        self.state = RouterState(pool=KeyPool(cfg.key_pool.keys, cooldown_seconds=60))
        self.shared = SharedPoolState(self.state)
        self.dashboard = Dashboard(self.state, shared=self.shared)
        self.access = Access(admin_session=self.dashboard.admin_session)
        for addon in (self.shared, self.dashboard, self.access):
            addon.apply(cfg)

    async def send(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> http.HTTPFlow:
        flow = tflow.tflow()
        flow.request.method, flow.request.path, flow.request.content = method, path, body
        flow.request.headers.clear()
        flow.request.headers.update(headers or {})
        for hook in (self.dashboard.session_check.request, self.access.request, self.dashboard.endpoint.request):
            if flow.response is None and inspect.isawaitable(result := hook(flow)):
                await result
        return flow

    async def data(self, headers: dict[str, str]) -> dict:
        flow = await self.send("GET", "/dashboard/data", headers=headers)
        assert flow.response.status_code == 200, flow.response.text
        return json.loads(flow.response.content)

    async def stop(self) -> None:
        await self.dashboard.done()
        await self.shared.done()


async def up(*routers: SharedRouter) -> None:
    deadline = time.monotonic() + 5
    while not all(r.state.redis == "up" for r in routers):
        assert time.monotonic() < deadline, "Redis never came up"
        await asyncio.sleep(0.01)
