"""Dashboard hooks: who may see the page and its data (admin token, login session, the page's
header), the login form and its cookie, what each answered flow adds, and that no key value
reaches the page or the data."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Iterator

import pytest
from hpn_router.addons.access import Access
from hpn_router.addons.admin import Admin
from hpn_router.addons.dashboard import COOKIE, Dashboard
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import CacheDecision, UpstreamPlan, context
from hpn_router.addons.metrics import answered_client_request
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.failover import Attempt
from hpn_router.core.keypool import KeyPool
from hpn_router.core.model.answer import Usage
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from procs import RedisServer, start_redis

ADMIN = "dashboard-admin-token-0123456789abcdef"
KEY_VALUES = ["AIzaSyDashKeyAlphaAaaaaaaaaaaaaaaaaaaaa", "AIzaSyDashKeyBetaBbbbbbbbbbbbbbbbbbbbbbb"]
T0 = 1_800_000_000.0
M = "gemini-2.5-flash"


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


# -- who may look -------------------------------------------------------------------------


def test_without_a_sign_in_the_page_is_the_login_form_and_the_data_is_refused():
    router = Router()
    page = router.send("GET", "/dashboard")
    assert page.response.status_code == 200 and 'action="/dashboard/login"' in page.response.text
    assert "/dashboard/data" not in page.response.text
    data = router.send("GET", "/dashboard/data")
    assert data.response.status_code == 401
    assert json.loads(data.response.content)["error"]["code"] == "invalid_api_key"  # OpenAI's envelope
    wrong = router.send("GET", "/dashboard/data", headers={"authorization": "Bearer not-the-token"})
    assert wrong.response.status_code == 401


def test_the_admin_token_as_a_bearer_opens_the_page_and_the_data():
    router = Router()
    page = router.send("GET", "/dashboard", headers={"authorization": f"Bearer {ADMIN}"})
    assert page.response.status_code == 200 and "/dashboard/data" in page.response.text
    headers = page.response.headers
    assert headers["content-type"].startswith("text/html") and headers["cache-control"] == "no-store"
    assert "script-src 'sha256-" in headers["content-security-policy"] and "frame-ancestors 'none'" in headers["content-security-policy"]
    data = router.send("GET", "/dashboard/data", headers={"authorization": f"Bearer {ADMIN}"})
    assert data.response.status_code == 200 and json.loads(data.response.content)["admin_actions"] is True


def test_the_login_form_sets_a_random_httponly_strict_session_cookie_and_keeps_no_token_in_the_flow():
    router = Router()
    flow = router.login()
    assert flow.response.status_code == 303 and flow.response.headers["location"] == "/dashboard"
    cookie = flow.response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert ADMIN not in cookie and ADMIN[:12] not in cookie
    assert ADMIN.encode() not in flow.request.content  # mitmweb and -w see the flow
    assert router.login().response.headers["set-cookie"] != cookie  # a new random id per login


def test_a_wrong_token_at_the_login_form_gets_the_form_again_with_401():
    router = Router()
    flow = router.login("guess")
    assert flow.response.status_code == 401 and "Wrong admin token." in flow.response.text
    assert "set-cookie" not in flow.response.headers
    empty = router.send("POST", "/dashboard/login")
    assert empty.response.status_code == 401


def test_after_ten_wrong_tokens_in_a_minute_even_the_right_one_waits_but_the_bearer_does_not():
    router = Router()
    for _ in range(10):
        assert router.login("guess").response.status_code == 401
    throttled = router.login()
    assert throttled.response.status_code == 429 and throttled.response.headers["retry-after"] == "60"
    assert "Too many wrong tokens" in throttled.response.text and "set-cookie" not in throttled.response.headers
    assert router.send("GET", "/dashboard/data", headers={"authorization": f"Bearer {ADMIN}"}).response.status_code == 200
    router.now += 60
    assert router.login().response.status_code == 303


def test_the_session_opens_the_page_alone_but_the_data_only_with_the_pages_header():
    router = Router()
    headers = signed_in(router)
    page = router.send("GET", "/dashboard", headers={"cookie": headers["cookie"]})
    assert "/dashboard/data" in page.response.text
    assert router.send("GET", "/dashboard/data", headers=headers).response.status_code == 200
    assert router.send("GET", "/dashboard/data", headers={"cookie": headers["cookie"]}).response.status_code == 401
    forged = {"cookie": f"{COOKIE}=made-up", "x-hpn-dashboard": "1"}
    assert router.send("GET", "/dashboard/data", headers=forged).response.status_code == 401


def test_the_session_calls_the_admin_api_only_with_the_pages_header():
    router = Router()
    router.state.pool.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), T0, M)
    headers = signed_in(router)
    # What a cross-site form would send: the cookie (were it not SameSite=Strict) without the header.
    refused = router.send("POST", "/admin/keys/key_1/enable", headers={"cookie": headers["cookie"]})
    assert refused.response.status_code == 401
    assert router.state.pool.disabled_reason(0) is not None
    admitted = router.send("POST", "/admin/keys/key_1/enable", headers=headers)
    assert admitted.response.status_code == 200 and json.loads(admitted.response.content)["state"] == "active"
    assert router.state.pool.disabled_reason(0) is None
    assert router.send("GET", "/admin/keys", headers={"cookie": f"{COOKIE}=made-up", "x-hpn-dashboard": "1"}).response.status_code == 401


def test_a_session_ends_with_logout_and_when_the_admin_token_changes():
    router = Router()
    headers = signed_in(router)
    out = router.send("POST", "/dashboard/logout", headers=headers)
    assert out.response.status_code == 303 and "Max-Age=0" in out.response.headers["set-cookie"]
    assert router.send("GET", "/dashboard/data", headers=headers).response.status_code == 401
    headers = signed_in(router)
    router.apply(config("a-new-admin-token-0123456789abcdef"))
    assert router.send("GET", "/dashboard/data", headers=headers).response.status_code == 401
    fresh = {"cookie": f"{COOKIE}={session_of(router.login('a-new-admin-token-0123456789abcdef'))}", "x-hpn-dashboard": "1"}
    assert router.send("GET", "/dashboard/data", headers=fresh).response.status_code == 200
    router.now += 12 * 3600  # and after its lifetime
    assert router.send("GET", "/dashboard/data", headers=fresh).response.status_code == 401


def test_without_an_admin_token_the_page_is_open_and_read_only_like_metrics():
    router = Router(admin_token="")
    page = router.send("GET", "/dashboard")
    assert "/dashboard/data" in page.response.text
    data = router.send("GET", "/dashboard/data")
    assert data.response.status_code == 200 and json.loads(data.response.content)["admin_actions"] is False
    assert router.login("anything").response.status_code == 303  # nothing to sign in to; no session
    assert "set-cookie" not in router.login("anything").response.headers
    # A session cannot exist, so the admin API stays closed (it needs the token).
    assert router.send("GET", "/admin/keys", headers={"x-hpn-dashboard": "1"}).response.status_code == 401


def test_dashboard_paths_need_no_client_token_and_wrong_methods_get_405():
    router = Router()
    cfg = parse_config(
        {"server": {"admin_token": ADMIN, "client_tokens": ["sk-client-0123456789abcdef"]}, "key_pool": {"state_file": ""}},
        {"HPN_API_KEYS": KEY_VALUES[0]},
    )
    router.apply(cfg)
    assert router.send("GET", "/dashboard").response.status_code == 200
    assert router.send("GET", "/dashboard/login").response.status_code == 405
    assert router.send("DELETE", "/dashboard/data").response.status_code == 405


# -- what it shows ---------------------------------------------------------------------------


async def test_an_answered_request_feeds_the_history_last_errors_failovers_and_transitions():
    router = Router()
    router.dashboard.check_delay = 0.0
    router.state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, M)  # what KeyRouting reported
    with taddons.context():
        router.dashboard.data()  # the baseline of the key states: the page polled before (key_1 was active... now cooling)
    router.state.pool.enable(0)
    with taddons.context():
        router.dashboard.data()  # key_1 active again: key.recovered
    router.state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, M)
    router.dashboard.response(answered_chat(FAILOVER))
    await asyncio.sleep(0.05)  # the deferred transition check
    data = router.dashboard.data()
    assert data["hour"]["requests"] == 1 and data["hour"]["tokens"] == 16 and data["hour"]["saved_usd"] == 0.25
    assert data["hour"]["cache_hit_rate"] == 0.0
    rows = {k["name"]: k for k in data["keys"]}
    assert rows["key_1"]["state"] == "cooling" and rows["key_1"]["last_error"]["outcome"] == "rate_limited"
    assert rows["key_2"]["last_error"] is None
    kinds = [(e["kind"], e["key"]) for e in data["events"]]
    assert kinds[:2] == [("key.cooling", "key_1"), ("failover", "key_1")] and ("key.recovered", "key_1") in kinds
    assert data["events"][1]["to_key"] == "key_2"


async def test_the_first_cooldown_after_start_is_a_transition_in_the_list():
    router = Router()  # apply() took the baseline: every key active
    router.dashboard.check_delay = 0.0
    router.state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, M)
    router.dashboard.response(answered_chat(FAILOVER))
    await asyncio.sleep(0.05)
    assert [(e.kind, e.key) for e in router.dashboard.events.newest()] == [("key.cooling", "key_1"), ("failover", "key_1")]


def test_the_routers_own_pages_and_admin_calls_are_not_requests():
    router = Router()
    for path in ("/dashboard", "/dashboard/data", "/metrics", "/health", "/admin/keys"):
        flow = tflow.tflow(resp=True)
        flow.request.path = path
        router.dashboard.response(flow)
        assert not answered_client_request(flow)
    assert router.dashboard.data()["hour"]["requests"] == 0


def test_no_key_value_nor_a_piece_of_one_reaches_the_page_or_the_data():
    router = Router()
    router.state.pool.report(1, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), T0, M)
    router.dashboard.response(answered_chat(FAILOVER))
    headers = signed_in(router)
    text = (
        router.send("GET", "/dashboard", headers=headers).response.text
        + router.send("GET", "/dashboard/data", headers=headers).response.text
    )
    for value in KEY_VALUES:
        assert all(value[i : i + 10] not in text for i in range(len(value) - 9))
    assert ADMIN[:10] not in text


# -- every router and worker on one Redis: one dashboard -------------------------------------


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


BEARER = {"authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


async def up(*routers: SharedRouter) -> None:
    deadline = time.monotonic() + 5
    while not all(r.state.redis == "up" for r in routers):
        assert time.monotonic() < deadline, "Redis never came up"
        await asyncio.sleep(0.01)


async def test_a_failover_on_one_worker_shows_in_every_workers_data(redis_server):
    redis_server.command("FLUSHALL")
    a, b = SharedRouter(redis_server.url), SharedRouter(redis_server.url)
    await up(a, b)
    with taddons.context():
        a.dashboard.response(answered_chat(FAILOVER))
    assert (await b.data(BEARER))["hour"]["requests"] == 0  # not written yet: B has nothing of it
    redis_server.command("CONFIG", "RESETSTAT")
    await a.dashboard.write()
    await a.dashboard.write()  # nothing new: no command
    stats = redis_server.command("INFO", "commandstats")
    assert "cmdstat_hincrby" in stats and "cmdstat_lpush:calls=1," in stats and "cmdstat_hset:calls=1," in stats
    seen = await b.data(BEARER)
    assert seen["scope"] == "all" and seen["hour"]["requests"] == 1 and seen["hour"]["tokens"] == 16
    assert [(e["key"], e["to_key"]) for e in seen["events"] if e["kind"] == "failover"] == [("key_1", "key_2")]
    assert next(k for k in seen["keys"] if k["name"] == "key_1")["last_error"]["outcome"] == "rate_limited"
    mine = await a.data(BEARER)
    assert mine["hour"]["requests"] == 1 and len([e for e in mine["events"] if e["kind"] == "failover"]) == 1  # not twice
    stored = redis_server.command("--no-raw", "EVAL", DUMP_DASHBOARD, "0")
    assert "key_1" in stored and not any(v[i : i + 12] in stored for v in KEY_VALUES for i in range(len(v) - 11))
    await a.stop()
    await b.stop()


# Every dashboard key in Redis and its contents, as one string.
DUMP_DASHBOARD = """
local out = {}
for _, name in ipairs(redis.call('KEYS', 'hpn:v1:dash:*')) do
  local kind = redis.call('TYPE', name)['ok']
  table.insert(out, name)
  if kind == 'hash' then for _, v in ipairs(redis.call('HGETALL', name)) do table.insert(out, v) end end
  if kind == 'list' then for _, v in ipairs(redis.call('LRANGE', name, 0, -1)) do table.insert(out, v) end end
  if kind == 'zset' then for _, v in ipairs(redis.call('ZRANGE', name, 0, -1)) do table.insert(out, v) end end
end
return table.concat(out, ' ')
"""


async def test_each_keys_request_counts_are_every_workers(redis_server):
    redis_server.command("FLUSHALL")
    a, b = SharedRouter(redis_server.url), SharedRouter(redis_server.url)
    await up(a, b)
    assert a.state.pool is not None and b.state.pool is not None
    now = time.time()
    for _ in range(3):
        a.state.pool.record_send(0, now, "gemini-2.5-flash")
    b.state.pool.record_send(0, now, "gemini-2.5-flash")
    await a.shared.response(None)  # type: ignore[arg-type]  # nothing else changed: pushed in the background
    deadline = time.monotonic() + 5
    while a.state.pool.sent:
        assert time.monotonic() < deadline, "A never pushed its sends"
        await asyncio.sleep(0.01)
    # A shows its 3 (B's 1 is not pushed yet); B shows A's pushed 3 and its own 1.
    for router, mine, shown in ((a, 3, 3), (b, 1, 4)):
        row = next(k for k in (await router.data(BEARER))["keys"] if k["name"] == "key_1")
        assert (row["requests_today"], row["requests_last_minute"]) == (shown, shown)
        assert router.state.pool is not None and router.state.pool.requests_by_project(now)[router.state.pool.group(0)][0] == mine
    await a.stop()
    await b.stop()


async def test_a_session_opened_on_one_worker_counts_on_another_until_it_signs_out_there(redis_server):
    redis_server.command("FLUSHALL")
    a, b = SharedRouter(redis_server.url), SharedRouter(redis_server.url)
    await up(a, b)
    form = {"content-type": "application/x-www-form-urlencoded"}
    login = await a.send("POST", "/dashboard/login", headers=form, body=f"token={ADMIN}".encode())
    assert login.response.status_code == 303
    page = {"cookie": f"{COOKIE}={session_of(login)}", "x-hpn-dashboard": "1"}
    assert (await b.send("GET", "/dashboard/data", headers=page)).response.status_code == 200
    assert (await b.send("POST", "/admin/keys/key_1/enable", headers=page)).response is None  # Access let it through to Admin
    assert (await b.send("POST", "/admin/keys/key_1/enable", headers={"cookie": page["cookie"]})).response.status_code == 401
    stored = redis_server.command("ZRANGE", "hpn:v1:dash:sessions", "0", "-1")
    assert session_of(login) not in stored and ADMIN not in stored
    await b.send("POST", "/dashboard/logout", headers=page)
    assert (await a.send("GET", "/dashboard/data", headers=page)).response.status_code == 401  # ended everywhere
    await a.stop()
    await b.stop()


async def test_with_redis_down_the_data_is_this_routers_own_and_says_so(redis_server, tmp_path):
    dead = start_redis(tmp_path)
    url = dead.url
    dead.stop()
    router = SharedRouter(url)
    router.shared.running()
    deadline = time.monotonic() + 5
    while router.state.redis != "down":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    with taddons.context():
        router.dashboard.response(answered_chat(FAILOVER))
    await router.dashboard.write()  # Redis down: kept for later
    data = await router.data(BEARER)
    assert data["scope"] == "degraded" and data["hour"]["requests"] == 1
    assert [m.requests for m in router.dashboard.history.take_unsent()] == [1]
    await router.stop()
