"""RedisStore against a real redis-server: one transaction per push, the later deadline wins,
cooldowns expire with their deadline, sends, budgets and clients are counted, and a dead Redis
raises what the sync treats as "down" quickly."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Awaitable
from decimal import Decimal

import pytest
from hpn_router.core.access import ClientWindow
from hpn_router.core.dashboardevents import SHARED_EVENTS, Event
from hpn_router.core.dashboardhistory import MINUTE_TTL_SECONDS, MINUTES, Minute, minute_key
from hpn_router.core.dashboardlogin import SESSIONS_ZSET
from hpn_router.core.rediskeys import breaker_key, cooldown_key, quota_keys, sent_keys
from hpn_router.core.sendtally import SendTally
from hpn_router.core.sharedstate import PoolDelta
from hpn_router.edge.sharedstate import RedisStore, StoreError
from procs import RedisServer, start_redis

SLOT = ("proj-a", "gemini-flash-latest")


async def test_a_push_is_one_transaction_with_the_totals_and_a_message(redis):
    store = RedisStore(redis.url)
    redis.command("CONFIG", "RESETSTAT")
    until = time.time() + 30
    change = PoolDelta(disabled={"digest-1": "401"}, cooled={SLOT: (until, False, "429")})
    assert await store.push(change, 3, 1500) == (3, Decimal("1.5E-9"))
    assert await store.push(PoolDelta(), 2, 0) == (5, Decimal("1.5E-9"))
    stats = redis.command("INFO", "commandstats")
    assert "cmdstat_multi:calls=2" in stats and "cmdstat_exec:calls=2" in stats
    assert "cmdstat_publish:calls=1" in stats  # only a real change is announced
    state = await store.read_all()
    assert state.disabled == {"digest-1": "401"}
    assert state.cooldowns == {SLOT: (until, False, "429")}
    await store.close()


async def test_the_later_deadline_wins_and_the_key_expires_at_it(redis):
    store = RedisStore(redis.url)
    now = time.time()
    await store.push(PoolDelta(cooled={SLOT: (now + 60, False, "first")}), 0, 0)
    await store.push(PoolDelta(cooled={SLOT: (now + 10, False, "earlier")}), 0, 0)
    assert (await store.read_all()).cooldowns[SLOT][2] == "first"
    ttl_ms = int(redis.command("PTTL", cooldown_key(SLOT)))
    assert 50_000 < ttl_ms <= 60_000
    await store.push(PoolDelta(lifted=frozenset({SLOT}), enabled=frozenset({"x"})), 0, 0)
    assert (await store.read_all()).cooldowns == {}
    await store.close()


async def test_a_breaker_is_kept_at_its_later_deadline_expires_with_it_and_a_close_removes_it(redis):
    store = RedisStore(redis.url)
    now = time.time()
    await store.push(PoolDelta(tripped={"digest-1": (2, now + 10, "timeout")}), 0, 0)
    await store.push(PoolDelta(tripped={"digest-1": (1, now + 5, "earlier")}), 0, 0)
    assert (await store.read_all()).breakers == {"digest-1": (2, now + 10, "timeout")}
    assert 5_000 < int(redis.command("PTTL", breaker_key("digest-1"))) <= 10_000
    await store.push(PoolDelta(closed=frozenset({"digest-1"})), 0, 0)
    assert (await store.read_all()).breakers == {}
    await store.close()


async def test_sends_ride_in_the_push_and_are_read_back_for_every_group_in_one_mget(redis):
    store = RedisStore(redis.url)
    now = time.time()
    minute = int(now // 60)
    a, b = SendTally(), SendTally()  # two routers
    for tally in (a, a, b):
        tally.add("proj-a", now)
    b.add("proj-b", now)
    redis.command("CONFIG", "RESETSTAT")
    await store.push(PoolDelta(), 0, 0, a.take())
    await store.push(PoolDelta(), 0, 0, b.take())
    counts = await store.sent_counts(["proj-a", "proj-b", "proj-c"], minute, a.day)
    assert counts == {"proj-a": (3, 3, 0), "proj-b": (1, 1, 0), "proj-c": (0, 0, 0)}
    stats = redis.command("INFO", "commandstats")
    assert "cmdstat_exec:calls=2" in stats and "cmdstat_mget:calls=1" in stats
    day_key, minute_key, _ = sent_keys("proj-a", minute, a.day)
    assert 0 < int(redis.command("PTTL", minute_key)) <= 120_000
    assert 24 * 3600_000 < int(redis.command("PTTL", day_key)) <= 25 * 3600_000
    await store.close()


async def test_a_dead_redis_fails_fast_with_a_store_error(tmp_path):
    server = start_redis(tmp_path)
    store = RedisStore(server.url)
    await store.epoch()
    server.stop()
    started = time.monotonic()
    with pytest.raises(StoreError):
        await store.push(PoolDelta(), 1, 0)
    assert time.monotonic() - started < 5  # bounded, whatever redis-py's retry defaults are
    await store.close()


async def test_a_clients_request_is_checked_and_counted_in_one_evalsha(redis):
    store = RedisStore(redis.url)
    await store.admit_client(ClientWindow("client_warm", 3, 60030.0))  # loads the script (a first EVALSHA meets NOSCRIPT)
    redis.command("CONFIG", "RESETSTAT")
    results = [await store.admit_client(ClientWindow("client_x", 3, 60030.0)) for _ in range(4)]
    assert results == [(True, 1, 0), (True, 2, 0), (True, 3, 0), (False, 3, 0)]  # a refusal is not counted
    stats = redis.command("INFO", "commandstats")
    assert "cmdstat_evalsha:calls=4," in stats  # one round trip per request (GET, INCR inside the script)
    assert "cmdstat_multi" not in stats and "cmdstat_script" not in stats
    # The next minute: the previous one's 3 requests still weigh ceil(3 * 0.9) = 3 early in it.
    assert await store.admit_client(ClientWindow("client_x", 3, 60066.0)) == (False, 0, 3)
    assert await store.admit_client(ClientWindow("client_x", 3, 60102.0)) == (True, 1, 3)  # ceil(0.9) = 1, plus 1
    assert await store.admit_client(ClientWindow("client_y", 3, 60066.0)) == (True, 1, 0)  # each client its own window
    assert 0 < int(redis.command("PTTL", "hpn:v1:rpm:client_y:1001")) <= 120_000
    await store.close()


async def test_an_event_is_claimed_once_its_neighbouring_marks_included(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    assert await a.claim_event(("s:10", "s:9", "s:11")) is True
    assert await b.claim_event(("s:10", "s:9", "s:11")) is False
    assert await b.claim_event(("s:11", "s:10", "s:12")) is False  # the other router's mark, one bucket on
    assert await b.claim_event(("t:10", "t:9", "t:11")) is True
    assert 0 < int(redis.command("TTL", "hpn:v1:wh:s:10")) <= 600
    await a.close()
    await b.close()


async def test_routers_heartbeating_are_counted_until_they_stop(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    assert await a.heartbeat(100.0) == 1
    assert await b.heartbeat(101.0) == 2
    assert await a.heartbeat(107.0) == 1  # B's last heartbeat is over 5 s old
    await a.close()
    await b.close()


async def test_a_budget_is_checked_and_counted_in_one_evalsha_for_every_router(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    keys = quota_keys(SLOT, 1000, "2026-12-01")
    await a.admit_quota(quota_keys(("warm", "m"), 1000, "d"), (1, 0, 0), 0.5, 0, 60)  # loads the script
    redis.command("CONFIG", "RESETSTAT")
    assert await a.admit_quota(keys, (2, 0, 0), 0.5, 10, 86400) == (True, 0, 0, 0, None)  # counts before this request
    assert await b.admit_quota(keys, (2, 0, 0), 0.5, 10, 86400) == (True, 1, 1, 10, None)
    assert await a.admit_quota(keys, (2, 0, 0), 0.5, 10, 86400) == (False, 2, 2, 20, None)  # refused: not counted
    assert "cmdstat_evalsha:calls=3," in redis.command("INFO", "commandstats")
    # A per-day budget, the next minute: rpm frees up, rpd does not.
    later = quota_keys(SLOT, 1001, "2026-12-01")
    assert await b.admit_quota(later, (0, 2, 0), 0.9, 0, 86400) == (False, 1, 2, 2, None)
    assert await b.admit_quota(later, (0, 3, 0), 0.9, 0, 86400) == (True, 1, 2, 2, None)
    assert 0 < int(redis.command("PTTL", keys[2])) <= 86_400_000
    # Tokens per minute: 20 the minute before, a tenth of them still in the window.
    assert await a.admit_quota(later, (0, 0, 2), 0.9, 5, 86400) == (False, 2, 3, 2, None)
    assert await a.admit_quota(later, (0, 0, 3), 0.9, 5, 86400) == (True, 2, 3, 2, None)
    assert redis.command("GET", later[3]).strip() == "5"
    await a.close()
    await b.close()


async def test_a_budget_check_carries_the_clients_rate_and_a_refused_client_spends_no_budget(redis):
    store = RedisStore(redis.url)
    keys = quota_keys(SLOT, 1000, "2026-12-01")
    client = ClientWindow("client_q", 1, 60030.0)
    await store.admit_quota(quota_keys(("warm", "m"), 1000, "d"), (1, 0, 0), 0.5, 0, 60, client=ClientWindow("client_warm", 5, 60030.0))
    redis.command("CONFIG", "RESETSTAT")
    assert await store.admit_quota(keys, (5, 0, 0), 0.5, 10, 86400, client=client) == (True, 0, 0, 0, (True, 1, 0))
    assert await store.admit_quota(keys, (5, 0, 0), 0.5, 10, 86400, client=client) == (False, 0, 0, 0, (False, 1, 0))
    assert await store.admit_quota(keys, (5, 0, 0), 0.5, 10, 86400) == (True, 1, 1, 10, None)  # the refusal counted nothing
    assert "cmdstat_evalsha:calls=3," in redis.command("INFO", "commandstats")
    await store.close()


async def commands_seen(redis: RedisServer, action: Awaitable[object]) -> list[str]:
    """The command names Redis got while `action` ran, in order, as MONITOR shows them (scripts'
    own calls left out; an ECHO marker after the action ends the list)."""
    proc = subprocess.Popen(["redis-cli", "-p", str(redis.port), "monitor"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    fd, seen, deadline = proc.stdout.fileno(), b"", time.monotonic() + 10
    try:
        while b"OK\n" not in seen:  # MONITOR is on before the action runs
            assert time.monotonic() < deadline, "MONITOR never started"
            seen += os.read(fd, 65536) if select.select([fd], [], [], 0.5)[0] else b""
        await action
        marker = f"marker-{time.monotonic_ns()}"
        redis.command("ECHO", marker)
        seen = b""
        while marker.encode() not in seen:
            assert time.monotonic() < deadline, "MONITOR never showed the marker"
            seen += os.read(fd, 65536) if select.select([fd], [], [], 0.5)[0] else b""
    finally:
        proc.terminate()
        proc.wait(5)
    lines = [line for line in seen.decode().splitlines() if "lua]" not in line and marker not in line]
    return [line.split('"')[1].lower() for line in lines]


async def test_a_push_and_a_dashboard_write_with_scripts_are_one_round_trip_each(redis):
    store = RedisStore(redis.url)
    now = time.time()
    cooling = Event(now, "key.cooling", "key_1", "429", until=now + 60)
    await store.push(PoolDelta(cooled={SLOT: (now + 30, False, "429")}), 1, 0)  # Redis knows the scripts from here on
    await store.write_dashboard([], [cooling], {})
    tally = SendTally()
    tally.add("proj-a", now)
    push = store.push(PoolDelta(cooled={SLOT: (now + 60, False, "429")}, tripped={"digest-1": (1, now + 9, "t")}), 1, 0, tally)
    assert await commands_seen(redis, push) == ["multi", "evalsha", "evalsha", "incrby", "pexpire", "incrby", "pexpire"] + [
        "hincrby",
        "hincrby",
        "publish",
        "exec",
    ]  # no SCRIPT EXISTS before them
    write = store.write_dashboard([Minute(int(now // 60), requests=1)], [Event(now + 300, "key.cooling", "key_1", "429")], {})
    assert await commands_seen(redis, write) == ["hincrby", "expire", "evalsha"]
    await store.close()


async def test_scripts_redis_forgot_run_again_once_and_nothing_else_counts_twice(redis):
    store = RedisStore(redis.url)
    now = time.time()
    await store.push(PoolDelta(), 1, 0)
    redis.command("SCRIPT", "FLUSH")  # Redis restarted without its scripts, say
    tally = SendTally()
    tally.add("proj-a", now)
    assert await store.push(PoolDelta(cooled={SLOT: (now + 30, False, "429")}), 2, 0, tally) == (3, Decimal(0))
    assert (await store.read_all()).cooldowns == {SLOT: (now + 30, False, "429")}
    assert (await store.sent_counts(["proj-a"], int(now // 60), tally.day))["proj-a"][0] == 1
    redis.command("SCRIPT", "FLUSH")
    minute = int(now // 60)
    failover = Event(now, "failover", "key_1", "rate_limited (429)", "key_2")
    await store.write_dashboard([Minute(minute, requests=2)], [failover], {})
    shared = await store.read_dashboard(minute, [])
    assert shared.minutes[minute].requests == 2 and shared.events == [failover]
    await store.close()


# -- the dashboard's shared history ------------------------------------------------------------


async def test_the_dashboards_history_is_the_sum_of_what_every_process_wrote(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    minute = int(time.time() // 60)
    failover = Event(time.time(), "failover", "key_1", "rate_limited (429)", "key_2", "gemini-2.5-flash")
    await a.write_dashboard([Minute(minute, requests=2, errors=1, saved_usd=0.5)], [failover], {"key_1": (1.0, "rate_limited", 429)})
    await b.write_dashboard(
        [Minute(minute, requests=3, input_tokens=7), Minute(minute - 1, requests=1)],
        [Event(time.time() + 1, "key.cooling", "key_1", "429", until=time.time() + 60)],
        {"key_2": (2.0, "server_error", None)},
    )
    await b.write_dashboard([], [], {})  # nothing to write: no round trip
    shared = await a.read_dashboard(minute, ["key_1", "key_2", "key_3"])
    assert shared.minutes[minute] == Minute(minute, requests=5, errors=1, input_tokens=7, saved_usd=0.5)
    assert shared.minutes[minute - 1].requests == 1 and minute - 2 not in shared.minutes
    assert [e.kind for e in shared.events] == ["key.cooling", "failover"] and shared.events[1] == failover
    assert shared.errors == {"key_1": (1.0, "rate_limited", 429), "key_2": (2.0, "server_error", None)}
    assert MINUTE_TTL_SECONDS - 5 < int(redis.command("TTL", minute_key(minute))) <= MINUTE_TTL_SECONDS
    assert (await a.read_dashboard(minute + MINUTES, [])).minutes == {}  # an hour later: out of the charts
    redis.command("CONFIG", "RESETSTAT")
    await b.read_dashboard(minute, [f"key_{i}" for i in range(100)])
    stats = redis.command("INFO", "commandstats")  # the whole read is one EVALSHA (the script ran before)
    assert "cmdstat_evalsha:calls=1," in stats and "cmdstat_hgetall" not in stats
    await a.close()
    await b.close()


async def test_a_key_change_every_process_saw_is_listed_once_each_failover_always(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    now = time.time()
    cooling = Event(now, "key.cooling", "key_1", "429", until=now + 60)
    failover = Event(now, "failover", "key_1", "rate_limited (429)", "key_2")
    await a.write_dashboard([], [cooling, failover], {})
    await b.write_dashboard([], [Event(now + 2, "key.cooling", "key_1", "429", until=now + 60), failover], {})
    later = Event(now + 300, "key.cooling", "key_1", "429", until=now + 360)  # a new cooldown: listed
    await b.write_dashboard([], [later], {})
    shared = await a.read_dashboard(0, [])
    assert shared.events == [later, failover, failover, cooling]
    await a.close()
    await b.close()


async def test_the_shared_event_list_is_capped(redis):
    store = RedisStore(redis.url)
    events = [Event(float(i), "failover", "key_1", None, "key_2") for i in range(SHARED_EVENTS + 30)]
    await store.write_dashboard([], events, {})
    shared = await store.read_dashboard(0, [])
    assert len(shared.events) == SHARED_EVENTS and shared.events[0].at == SHARED_EVENTS + 29  # the newest kept
    await store.close()


async def test_a_dashboard_session_counts_everywhere_until_it_expires_ends_or_is_pushed_out(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    now = time.time()
    await a.open_session("member-1", now + 100, now, capacity=2)
    assert await b.session_expiry("member-1") == now + 100 and await b.session_expiry("unknown") is None
    await a.open_session("member-2", now + 101, now, capacity=2)
    await a.open_session("member-3", now + 102, now, capacity=2)  # the oldest ends
    assert await b.session_expiry("member-1") is None and await b.session_expiry("member-3") == now + 102
    await b.close_session("member-2")
    assert await a.session_expiry("member-2") is None
    await a.open_session("member-4", now + 200, now + 150, capacity=2)  # member-3 expired meanwhile: gone
    assert redis.command("ZRANGE", SESSIONS_ZSET, "0", "-1").split() == ["member-4"]
    await a.close()
    await b.close()
