"""The Dashboard addon: what each answered flow adds (history, last errors, failovers,
transitions), and with Redis one dashboard for every worker: each writes its part, the data
reads everyone's (with each key's request counts) in one round trip, and says so when Redis is down."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import select
import subprocess
import time
from collections.abc import Awaitable, Callable

from dashboardtools import BEARER, FAILOVER, KEY_VALUES, T0, M, Router, SharedRouter, answered_chat, up
from hpn_router.addons.metrics import answered_client_request
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.edge.sharedstate import DASHBOARD_READ_SCRIPT
from mitmproxy.test import taddons, tflow
from procs import RedisServer, start_redis


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


async def monitored(redis_server: RedisServer, action: Callable[[], Awaitable[object]]) -> list[str]:
    """The commands Redis got while `action` ran, as MONITOR shows them, each script's own calls
    left out (up to an ECHO marker sent after it: exact, whatever else runs meanwhile)."""
    proc = subprocess.Popen(["redis-cli", "-p", str(redis_server.port), "monitor"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    try:
        seen = b""
        deadline = time.monotonic() + 10
        while b"OK\n" not in seen:  # MONITOR is on before the action runs
            assert time.monotonic() < deadline, "MONITOR never started"
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 65536)
        await action()
        marker = f"marker-{time.monotonic_ns()}"
        redis_server.command("ECHO", marker)
        seen = b""
        while marker.encode() not in seen:
            assert time.monotonic() < deadline, "MONITOR never showed the marker"
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 65536)
    finally:
        proc.terminate()
        proc.wait(5)
    lines = seen.decode().splitlines()
    return [line for line in lines if "lua]" not in line and marker not in line]


async def test_each_poll_reads_every_workers_history_and_request_counts_in_one_round_trip(redis_server):
    redis_server.command("FLUSHALL")
    a, b = SharedRouter(redis_server.url), SharedRouter(redis_server.url)
    await up(a, b)
    assert a.state.pool is not None
    a.state.pool.record_send(0, time.time(), M)
    await a.shared.response(None)  # type: ignore[arg-type]  # pushed in the background
    deadline = time.monotonic() + 5
    while a.state.pool.sent:
        assert time.monotonic() < deadline, "A never pushed its send"
        await asyncio.sleep(0.01)
    await b.data(BEARER)  # the first poll loads the script (NOSCRIPT, then SCRIPT LOAD): once per Redis
    polled: list[dict] = []

    async def poll() -> None:
        polled.append(await b.data(BEARER))

    commands = await monitored(redis_server, poll)
    ours = [c for c in commands if "hpn:v1:dash:" in c or "hpn:v1:sent:" in c]  # the sync's own commands name neither
    read = hashlib.sha1(DASHBOARD_READ_SCRIPT.encode()).hexdigest()
    assert len(ours) == 1 and re.search(rf'\] "evalsha" "{read}"', ours[0], re.IGNORECASE), ours
    row = next(k for k in polled[0]["keys"] if k["name"] == "key_1")
    assert (row["requests_today"], row["requests_last_minute"]) == (1, 1)  # A's send, read in that same trip
    await a.stop()
    await b.stop()
