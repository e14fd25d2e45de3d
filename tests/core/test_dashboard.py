"""The data the dashboard's page polls: each key's row, the hour, the events, whose history it
shows (this router's, every process's on Redis, or degraded), and what it costs with 100 keys."""

from __future__ import annotations

import json
import time

from dashboardtools import RATE_LIMITED, T0, M, attempt, pool_of
from hpn_router.core.classify import OK, Outcome, Verdict
from hpn_router.core.dashboard import SharedHistory, dashboard_data, quota_groups, shared_request_counts
from hpn_router.core.dashboarderrors import LastErrors
from hpn_router.core.dashboardevents import MAX_EVENTS, Event, RecentEvents
from hpn_router.core.dashboardhistory import MINUTES, Minute, MinuteHistory


def test_the_data_shows_each_key_with_state_counts_and_last_error_and_the_hour():
    pool, values = pool_of(3)
    pool.record_send(1, T0, M)
    pool.report(0, RATE_LIMITED, now=T0, model=M)
    pool.report(2, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), now=T0, model=M)
    history, events, errors = MinuteHistory(), RecentEvents(), LastErrors()
    history.record(T0, status=200, cache="MISS", input_tokens=5, output_tokens=7, saved_usd=0.001)
    history.record(T0, status=429, cache="HIT")
    errors.note([attempt(1, "key_0", RATE_LIMITED, 429, T0)])
    events.add_failover([attempt(1, "key_0", RATE_LIMITED, 429, T0), attempt(2, "key_1", OK, 200, T0)], "gpt-4")
    data = dashboard_data(pool, T0 + 1, history, events, errors, admin_actions=True)
    rows = {k["name"]: k for k in data["keys"]}
    assert rows["key_0"]["state"] == "cooling" and rows["key_0"]["until"] > T0 + 1 and rows["key_0"]["reason"]
    assert rows["key_0"]["last_error"] == {"at": T0 + 0.1, "outcome": "rate_limited", "status": 429}
    assert rows["key_1"]["state"] == "cooling"  # the same project (proj_0) is cooling
    assert rows["key_1"]["requests_today"] == 1 and rows["key_1"]["requests_last_minute"] == 1
    assert rows["key_2"]["project"] == "proj_1" and rows["key_2"]["provider"] == "gemini"
    assert rows["key_2"]["state"] == "disabled" and rows["key_2"]["until"] is None and rows["key_2"]["reason"]
    assert data["hour"] == {"requests": 2, "error_rate": 0.5, "cache_hit_rate": 0.5, "tokens": 12, "saved_usd": 0.001}
    assert len(data["history"]["requests"]) == MINUTES and data["history"]["requests"][-1] == 2
    assert data["events"][0]["kind"] == "failover" and data["events"][0]["to_key"] == "key_1"
    assert data["admin_actions"] is True
    text = json.dumps(data)
    for value in values:  # names only: no key value, nor a piece of one
        assert all(value[i : i + 8] not in text for i in range(len(value) - 7))


def test_without_a_pool_the_data_has_no_keys():
    data = dashboard_data(None, T0, MinuteHistory(), RecentEvents(), LastErrors(), admin_actions=False)
    assert data["keys"] == [] and data["hour"]["requests"] == 0 and data["hour"]["error_rate"] == 0.0


def test_measure_the_data_with_100_keys(capsys):
    """Not a timed assertion: prints what building the page's data costs with 100 keys and a
    full hour of history (the figure in the README's Dashboard section)."""
    pool, _ = pool_of(100)
    history, events, errors = MinuteHistory(), RecentEvents(), LastErrors()
    for i in range(100):
        pool.record_send(i, T0, M)
        if i % 3 == 0:
            pool.report(i, RATE_LIMITED, now=T0, model=M)
            errors.note([attempt(1, f"key_{i}", RATE_LIMITED, 429, T0)])
    for minute in range(MINUTES):
        history.record(T0 - minute * 60, status=200, cache="HIT", input_tokens=100, output_tokens=50, saved_usd=0.01)
    for i in range(MAX_EVENTS):
        events.add_failover([attempt(1, f"key_{i}", RATE_LIMITED, 429, T0), attempt(2, "key_99", OK, 200, T0)], M)
    runs = 50
    started = time.perf_counter()
    for _ in range(runs):
        body = json.dumps(dashboard_data(pool, T0 + 1, history, events, errors, admin_actions=True))
    per_call = (time.perf_counter() - started) / runs
    with capsys.disabled():
        print(f"\ndashboard data, 100 keys: {per_call * 1000:.2f} ms per poll (incl. JSON), {len(body)} bytes")
    assert len(json.loads(body)["keys"]) == 100


def test_the_data_says_whose_history_it_shows_and_merges_the_shared_part():
    pool, _ = pool_of(2)
    h, events, errors = MinuteHistory(), RecentEvents(), LastErrors()
    h.record(T0 + 1, status=200)
    alone = dashboard_data(pool, T0 + 2, h, events, errors, admin_actions=False)
    down = dashboard_data(pool, T0 + 2, h, events, errors, admin_actions=False, redis_down=True)
    assert (alone["scope"], down["scope"], down["hour"]["requests"]) == ("router", "degraded", 1)
    shared = SharedHistory(
        {int(T0 // 60): Minute(int(T0 // 60), requests=7)},
        [Event(T0, "failover", "key_0", "rate_limited (429)", "key_1", M)],
        {"key_0": (T0, "rate_limited", 429)},
    )
    data = dashboard_data(pool, T0 + 2, h, events, errors, admin_actions=False, shared=shared)
    assert data["scope"] == "all" and data["hour"]["requests"] == 8  # 7 written by all + this one's unsent 1
    assert [e["to_key"] for e in data["events"]] == ["key_1"]
    assert data["keys"][0]["last_error"] == {"at": T0, "outcome": "rate_limited", "status": 429}


def test_with_redis_each_groups_counts_are_every_routers_sends_plus_this_ones_unpushed():
    pool, _ = pool_of(3)  # proj_0: key_0 and key_1; proj_1: key_2
    assert quota_groups(pool) == ["proj_0", "proj_1"]
    pool.record_send(1, T0 + 10, M)  # not pushed yet: this router's own
    counts = shared_request_counts(pool, {"proj_0": (5, 2, 6)}, T0 + 30)  # half the previous minute still counts
    assert counts == {"proj_0": (6, 3 + 3), "proj_1": (0, 0)}  # proj_1: nothing in Redis, nothing here
    data = dashboard_data(pool, T0 + 30, MinuteHistory(), RecentEvents(), LastErrors(), admin_actions=False, counts=counts)
    assert [(k["requests_today"], k["requests_last_minute"]) for k in data["keys"]] == [(6, 6), (6, 6), (0, 0)]
