"""Admin: the pool's keys by name and state (never a key value), re-enabling a key, and
config reloads, behind Access, which alone checks the admin token."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hpn_router.addons.access import Access
from hpn_router.addons.admin import Admin
from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.keystates import KeyState
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow

ADMIN_TOKEN = "admin-token-0123456789abcdef"
KEYS = {"alpha": "AIzaSyAdminKeyAlphaAaaaaaaaaaaaaaaaaaaaa", "beta": "AIzaSyAdminKeyBetaBbbbbbbbbbbbbbbbbbbbbb"}
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
MODEL = "gemini-2.5-flash"
CONFIG = parse_config(
    {
        "server": {"admin_token": ADMIN_TOKEN},
        "key_pool": {"keys": [{"name": n, "key": k, "project": "p1" if n == "alpha" else None} for n, k in KEYS.items()]},
    },
    {},
)


class Reloads:
    """Stands in for Settings.reload: records each call, answers with a scripted error."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def __call__(self, *, trigger: str, by: str | None = None) -> str | None:
        self.calls.append({"trigger": trigger, "by": by})
        return self.error


class Channel:
    """Stands in for SharedPoolState's reload side: records what was announced, answers with how
    many routers got the notice (None: Redis is down)."""

    def __init__(self, notified: int | None = 2, shared: bool = True) -> None:
        self.notified = notified
        self.shared = shared
        self.announced: list[str] = []
        self.peer_reload: Any = None
        self.counts: dict[str, tuple[int, int]] | None = None  # every router's sends by group; None: Redis down

    async def announce_reload(self, trigger: str) -> int | None:
        self.announced.append(trigger)
        return self.notified

    async def request_counts(self, now: float) -> dict[str, tuple[int, int]] | None:
        return self.counts


def setup(reload: Reloads | None = None, channel: Channel | None = None) -> tuple[Access, Admin, RouterState, Reloads]:
    state = RouterState(pool=KeyPool(CONFIG.key_pool.keys, cooldown_seconds=60))
    reload = reload or Reloads()
    access = Access(clock=lambda: NOW)
    access.apply(CONFIG)
    return access, Admin(state, reload, shared=channel, clock=lambda: NOW), state, reload


def call(access: Access, admin: Admin, method: str, path: str, token: str | None = ADMIN_TOKEN) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.response = None
    flow.request.method, flow.request.path, flow.request.content = method, path, b""
    if token:
        flow.request.headers["authorization"] = f"Bearer {token}"
    access.request(flow)
    asyncio.run(admin.request(flow))  # async: a reload may tell the other routers
    return flow


def body(flow: http.HTTPFlow) -> Any:
    return json.loads(flow.response.content)


def test_keys_lists_names_and_states_never_key_values():
    access, admin, state, _ = setup()
    state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429 per-minute quota", retry_after=30), NOW, MODEL)
    state.pool.report(1, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), NOW, MODEL)
    with taddons.context():
        flow = call(access, admin, "GET", "/admin/keys")
    assert flow.response.status_code == 200
    assert body(flow)["keys"] == [
        {
            "name": "alpha",
            "project": "p1",
            "state": "cooling",
            "reason": "429 per-minute quota",
            "until": "2026-01-01T00:00:30+00:00",
            "requests_today": 0,
            "requests_last_minute": 0,
        },
        {
            "name": "beta",
            "project": "key:beta",
            "state": "disabled",
            "reason": "400 API key invalid",
            "until": None,
            "requests_today": 0,
            "requests_last_minute": 0,
        },
    ]
    assert not any(key[:12] in flow.response.text for key in KEYS.values())


def test_request_counts_are_every_routers_when_shared_and_this_routers_own_when_redis_is_down():
    channel = Channel()
    access, admin, state, _ = setup(channel=channel)
    state.pool.record_send(0, NOW, MODEL)
    channel.counts = {"p1": (40, 7), state.pool.group(1): (3, 1)}
    with taddons.context():
        shared = body(call(access, admin, "GET", "/admin/keys"))["keys"]
        channel.counts = None
        local = body(call(access, admin, "GET", "/admin/keys"))["keys"]
    assert [(r["requests_today"], r["requests_last_minute"]) for r in shared] == [(40, 7), (3, 1)]
    assert [(r["requests_today"], r["requests_last_minute"]) for r in local] == [(1, 1), (0, 0)]


def test_enable_brings_a_disabled_key_back():
    access, admin, state, _ = setup()
    state.pool.report(1, Outcome(Verdict.KEY_FORBIDDEN, "403 forbidden"), NOW, MODEL)
    with taddons.context():
        flow = call(access, admin, "POST", "/admin/keys/beta/enable")
        unknown = call(access, admin, "POST", "/admin/keys/gamma/enable")
    assert flow.response.status_code == 200 and body(flow)["state"] == "active" and body(flow)["name"] == "beta"
    assert state.pool.state(1, NOW, MODEL) is KeyState.ACTIVE
    assert unknown.response.status_code == 404 and body(unknown)["error"]["param"] == "name"


def test_reload_reports_the_new_pool_or_why_the_previous_config_stays():
    access, admin, _, reloads = setup()
    with taddons.context():
        flow = call(access, admin, "POST", "/admin/reload")
    assert flow.response.status_code == 200 and body(flow) == {"reloaded": True, "keys": 2}
    assert reloads.calls == [{"trigger": "admin_api", "by": "127.0.0.1:22"}]  # the caller, for the reload's log line

    access, admin, _, reloads = setup(Reloads(error="server.port: expected an integer"))
    with taddons.context():
        refused = call(access, admin, "POST", "/admin/reload")
    assert refused.response.status_code == 400
    assert body(refused)["error"]["code"] == "invalid_config" and "server.port" in body(refused)["error"]["message"]


def test_with_shared_state_a_reload_is_told_to_the_other_routers_and_the_answer_counts_them():
    channel = Channel(notified=2)
    access, admin, _, reloads = setup(channel=channel)
    with taddons.context():
        flow = call(access, admin, "POST", "/admin/reload")
    assert body(flow) == {"reloaded": True, "keys": 2, "routers_notified": 2}
    assert channel.announced == ["admin_api"] and reloads.calls == [{"trigger": "admin_api", "by": "127.0.0.1:22"}]


def test_a_reload_refused_here_is_still_told_the_others_read_their_own_files():
    channel = Channel(notified=1)
    access, admin, _, _ = setup(Reloads(error="models.gpt-4o: expected a string"), channel=channel)
    with taddons.context():
        flow = call(access, admin, "POST", "/admin/reload")
    assert flow.response.status_code == 400 and channel.announced == ["admin_api"]
    assert body(flow)["error"]["message"] == (
        "Reload failed; the previous config stays: models.gpt-4o: expected a string (1 other router told to reload)"
    )


def test_with_redis_down_the_reload_is_local_and_the_answer_says_so():
    access, admin, _, _ = setup(channel=Channel(notified=None))
    with taddons.context():
        flow = call(access, admin, "POST", "/admin/reload")
    assert body(flow) == {
        "reloaded": True,
        "keys": 2,
        "routers_notified": None,
        "warning": "Redis is down: the other routers were not told to reload",
    }


def test_without_shared_state_the_answer_is_unchanged():
    access, admin, _, _ = setup(channel=Channel(shared=False))
    with taddons.context():
        assert body(call(access, admin, "POST", "/admin/reload")) == {"reloaded": True, "keys": 2}


def test_another_routers_notice_reloads_this_one_as_a_peer_and_is_not_told_again():
    channel = Channel()
    _, _, _, reloads = setup(channel=channel)
    channel.peer_reload("host-b pid 9 worker 1")
    assert reloads.calls == [{"trigger": "peer", "by": "host-b pid 9 worker 1"}]
    assert channel.announced == []


def test_unknown_actions_and_wrong_methods_are_404():
    access, admin, _, reloads = setup()
    with taddons.context():
        for method, path in (("GET", "/admin/reload"), ("DELETE", "/admin/keys"), ("GET", "/admin/nothing")):
            flow = call(access, admin, method, path)
            assert flow.response.status_code == 404, path
    assert reloads.calls == []


def test_the_admin_token_is_checked_by_access_before_admin_acts():
    access, admin, state, reloads = setup()
    state.pool.report(1, Outcome(Verdict.KEY_INVALID, "400"), NOW, MODEL)
    with taddons.context():
        for token in (None, "wrong-token", CONFIG.server.admin_token[:-1]):
            for method, path in (("POST", "/admin/reload"), ("POST", "/admin/keys/beta/enable"), ("GET", "/admin/keys")):
                flow = call(access, admin, method, path, token=token)
                assert flow.response.status_code == 401 and "alpha" not in flow.response.text
    assert reloads.calls == [] and state.pool.state(1, NOW, MODEL) is KeyState.DISABLED


def test_paths_outside_admin_are_not_admins():
    _, admin, _, _ = setup()
    flow = tflow.tflow()
    flow.response = None
    flow.request.path = "/v1/models"
    with taddons.context():
        asyncio.run(admin.request(flow))
    assert flow.response is None


def test_a_key_that_did_not_answer_lately_is_listed_as_cooling_with_its_breaker():
    access, admin, state, _ = setup()
    for _ in range(2):  # twice in a row: 5 s, then 10 s
        state.pool.report(1, Outcome(Verdict.UNANSWERED, "timeout"), NOW, MODEL)
    state.pool.report(0, Outcome(Verdict.UNANSWERED, "connection reset"), NOW, MODEL)
    with taddons.context():
        alpha, beta = body(call(access, admin, "GET", "/admin/keys"))["keys"]
    expected = ("cooling", "no answer (timeout) 2 times in a row", "2026-01-01T00:00:10+00:00")
    assert (beta["state"], beta["reason"], beta["until"]) == expected
    assert alpha["reason"] == "no answer (connection reset) once"


class RaisingReload(Reloads):
    def __call__(self, *, trigger: str, by: str | None = None) -> str | None:
        super().__call__(trigger=trigger, by=by)
        raise RuntimeError("reload bug")


async def test_sighup_reloads_the_config_and_a_failing_reload_is_only_logged():
    import asyncio
    import os
    import signal

    from loguru import logger

    _, admin, _, reloads = setup(RaisingReload())
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{message}")
    admin.running()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(500):
            if reloads.calls:
                break
            await asyncio.sleep(0.01)
    finally:
        admin.done()
        logger.remove(sink)
    assert reloads.calls == [{"trigger": "sighup", "by": None}]
    assert "Reload on SIGHUP failed" in lines[0]
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL  # done() gave SIGHUP back


async def test_sighup_reloads_and_tells_the_other_routers():
    import os
    import signal

    channel = Channel()
    _, admin, _, reloads = setup(channel=channel)
    admin.running()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(500):
            if channel.announced:
                break
            await asyncio.sleep(0.01)
    finally:
        admin.done()
    assert reloads.calls == [{"trigger": "sighup", "by": None}] and channel.announced == ["sighup"]
