from __future__ import annotations

import json
import time

from hpn_router.config import KeyConfig
from hpn_router.core.classify import OK, Outcome, Verdict
from hpn_router.core.dashboard import (
    MAX_EVENTS,
    MINUTES,
    Event,
    LastErrors,
    LoginThrottle,
    Minute,
    MinuteHistory,
    RecentEvents,
    Sessions,
    SharedHistory,
    dashboard_data,
    decode_error,
    decode_event,
    encode_error,
    encode_event,
    merge_events,
    minute_fields,
    minute_from_fields,
    session_member,
    transition_marks,
)
from hpn_router.core.failover import Attempt
from hpn_router.core.keypool import KeyPool
from hpn_router.core.webhooks import TransitionWatch, key_views, pool_views

M = "gemini-2.5-flash"
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)
RATE_LIMITED = Outcome(Verdict.RATE_LIMITED, "429 per-minute quota", retry_after=30)


def attempt(number: int, key: str, outcome: Outcome, status: int | None, at: float) -> Attempt:
    return Attempt(number, number - 1, key, status, outcome, at, at + 0.1)


def pool_of(n: int) -> tuple[KeyPool, list[str]]:
    values = [f"AIzaSyDashboard{i:03d}" + "x" * 24 for i in range(n)]
    keys = [KeyConfig(name=f"key_{i}", key=v, project=f"proj_{i // 2}") for i, v in enumerate(values)]
    return KeyPool(keys, cooldown_seconds=60), values


# -- the minute history ------------------------------------------------------------------


def test_a_minute_counts_requests_errors_cache_tokens_and_savings():
    h = MinuteHistory()
    h.record(T0 + 1, status=200, cache="MISS", input_tokens=10, output_tokens=20, saved_usd=0.5)
    h.record(T0 + 2, status=200, cache="HIT", saved_usd=0.25)
    h.record(T0 + 3, status=429, cache="BYPASS")
    h.record(T0 + 4, status=400)
    last = h.series(T0 + 5)[-1]
    assert (last.requests, last.errors, last.cache_lookups, last.cache_hits) == (4, 2, 2, 1)
    assert (last.input_tokens, last.output_tokens, last.saved_usd) == (10, 20, 0.75)


def test_the_series_is_the_last_hour_oldest_first_with_empty_minutes_as_zeros():
    h = MinuteHistory()
    h.record(T0, status=200)
    h.record(T0 + 600, status=200)
    h.record(T0 + 600, status=500)
    series = h.series(T0 + 600)
    assert len(series) == MINUTES
    assert [m.minute * 60 for m in series][-1] == T0 + 600 and series[0].minute == series[-1].minute - (MINUTES - 1)
    assert [m.requests for m in series][-11:] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]


def test_traffic_older_than_an_hour_falls_out_and_the_ring_never_grows():
    h = MinuteHistory()
    for minute in range(3 * MINUTES):
        h.record(T0 + minute * 60, status=200)
    series = h.series(T0 + (3 * MINUTES - 1) * 60)
    assert sum(m.requests for m in series) == MINUTES and len(h._ring) == MINUTES
    # A minute the ring held an hour ago starts afresh when written again.
    h2 = MinuteHistory()
    h2.record(T0, status=500)
    h2.record(T0 + MINUTES * 60, status=200)
    assert sum(m.errors for m in h2.series(T0 + MINUTES * 60)) == 0
    assert sum(m.requests for m in h2.series(T0 + 3 * MINUTES * 60)) == 0  # nothing in the last hour


# -- failovers, transitions, last errors --------------------------------------------------


def test_each_failed_attempt_followed_by_another_key_is_one_failover_newest_first():
    events = RecentEvents()
    events.add_failover([attempt(1, "key_1", RATE_LIMITED, 429, T0), attempt(2, "key_2", OK, 200, T0 + 1)], "gpt-4")
    events.add_failover([attempt(1, "key_2", OK, 200, T0 + 5)], "gpt-4")  # no failover
    first = events.newest()
    assert [(e.kind, e.key, e.to_key, e.reason, e.model) for e in first] == [("failover", "key_1", "key_2", "rate_limited (429)", "gpt-4")]
    unanswered = Outcome(Verdict.UNANSWERED, "timeout")
    events.add_failover([attempt(1, "key_2", unanswered, None, T0 + 9), attempt(2, "key_3", OK, 200, T0 + 10)], None)
    assert [(e.key, e.reason) for e in events.newest()] == [("key_2", "timeout"), ("key_1", "rate_limited (429)")]


def test_the_event_list_is_bounded():
    events = RecentEvents()
    for i in range(3 * MAX_EVENTS):
        events.add_failover([attempt(1, f"key_{i}", RATE_LIMITED, 429, T0 + i), attempt(2, "key_x", OK, 200, T0 + i)], M)
    newest = events.newest()
    assert len(newest) == MAX_EVENTS and newest[0].key == f"key_{3 * MAX_EVENTS - 1}"


def test_key_transitions_join_the_list_and_pool_events_do_not():
    pool, _ = pool_of(3)
    watch, events = TransitionWatch(), RecentEvents()
    events.add_transitions(watch.observe(key_views(pool, T0), pool_views(pool, T0, [("gemini", M)]), T0))  # the baseline: nothing
    pool.report(2, RATE_LIMITED, now=T0 + 1, model=M)  # key_2 is its project's only key: every key of M is not cooling
    pool.report(0, RATE_LIMITED, now=T0 + 1, model=M)  # proj_0: key_0 and key_1 cool together; M is exhausted
    events.add_transitions(watch.observe(key_views(pool, T0 + 1), pool_views(pool, T0 + 1, [("gemini", M)]), T0 + 1))
    assert sorted((e.kind, e.key) for e in events.newest()) == [
        ("key.cooling", "key_0"),
        ("key.cooling", "key_1"),
        ("key.cooling", "key_2"),
    ]
    assert events.newest()[0].until is not None and events.newest()[0].until > T0 + 1


def test_last_errors_keep_each_keys_latest_failure_and_forget_removed_keys():
    errors = LastErrors()
    errors.note([attempt(1, "key_1", RATE_LIMITED, 429, T0), attempt(2, "key_2", OK, 200, T0 + 1)])
    errors.note([attempt(1, "key_1", Outcome(Verdict.TRANSIENT, "503"), 503, T0 + 5)])
    assert errors.of("key_1") == {"at": T0 + 5.1, "outcome": "server_error", "status": 503}
    assert errors.of("key_2") is None
    errors.forget_except(["key_2"])
    assert errors.of("key_1") is None


# -- sessions ----------------------------------------------------------------------------


def test_a_session_is_random_valid_until_it_expires_and_ends_on_logout():
    sessions = Sessions(lifetime=100)
    a, b = sessions.open(T0), sessions.open(T0)
    assert a != b and len(a) >= 40
    assert sessions.valid(a, T0 + 99) and not sessions.valid(a + "x", T0) and not sessions.valid(None, T0) and not sessions.valid("", T0)
    assert not sessions.valid(a, T0 + 100)
    sessions.close(b)
    assert not sessions.valid(b, T0 + 1)


def test_sessions_are_bounded_and_cleared_together():
    sessions = Sessions(capacity=3)
    ids = [sessions.open(T0) for _ in range(5)]
    assert [sessions.valid(s, T0) for s in ids] == [False, False, True, True, True]
    sessions.clear()
    assert not any(sessions.valid(s, T0) for s in ids)


def test_the_login_form_takes_ten_wrong_tokens_a_minute_then_waits():
    throttle = LoginThrottle(limit=10, window=60)
    for i in range(10):
        assert throttle.retry_after(T0 + i) is None
        throttle.failed(T0 + i)
    assert throttle.retry_after(T0 + 10) == 50  # the oldest of the ten leaves the window at T0 + 60
    assert throttle.retry_after(T0 + 60) is None
    throttle.failed(T0 + 60)
    assert throttle.retry_after(T0 + 60.5) == 0.5  # ten again within a minute (T0 + 1 ... T0 + 60): wait for T0 + 1's to go


# -- the data the page polls ---------------------------------------------------------------


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


# -- shared through Redis: what each process writes and how the reads merge -------------------


def test_a_minute_is_written_as_integer_increments_and_read_back_whatever_redis_returns():
    bucket = Minute(5, requests=3, errors=1, cache_lookups=2, cache_hits=1, input_tokens=10, output_tokens=0, saved_usd=0.000125)
    fields = minute_fields(bucket)
    assert fields == {"requests": 3, "errors": 1, "cache_lookups": 2, "cache_hits": 1, "input_tokens": 10, "saved_nano_usd": 125_000}
    stored = {k.encode(): str(v).encode() for k, v in fields.items()}  # redis-py's HGETALL: bytes
    assert minute_from_fields(5, stored) == bucket
    damaged = minute_from_fields(5, {b"requests": b"x", b"errors": b"-4", b"unknown": b"9"})
    assert (damaged.requests, damaged.errors) == (0, 0)


def test_what_was_recorded_is_taken_once_for_redis_and_given_back_when_the_write_fails():
    h = MinuteHistory()
    h.record(T0 + 1, status=200, cache="HIT", input_tokens=5, saved_usd=0.25)
    h.record(T0 + 61, status=500)
    taken = h.take_unsent()
    assert [(m.minute, m.requests, m.errors, m.cache_hits, m.input_tokens, m.saved_usd) for m in taken] == [
        (T0 // 60, 1, 0, 1, 5, 0.25),
        (T0 // 60 + 1, 1, 1, 0, 0, 0.0),
    ]
    assert h.take_unsent() == []
    h.record(T0 + 62, status=200)
    h.give_back(taken)
    assert [(m.minute, m.requests) for m in h.take_unsent()] == [(T0 // 60 + 1, 2), (T0 // 60, 1)]
    assert h.series(T0 + 62)[-1].requests == 2  # the local view never lost anything


def test_the_shared_series_is_what_every_process_wrote_plus_this_ones_unsent_part():
    h = MinuteHistory()
    h.record(T0 + 1, status=200)
    h.take_unsent()  # written: from now on it is in `shared`
    h.record(T0 + 2, status=429)
    shared = {int(T0 // 60): Minute(int(T0 // 60), requests=5, errors=1), int(T0 // 60) - 70: Minute(0, requests=99)}
    series = h.unsent_series(T0 + 3, shared)
    assert len(series) == MINUTES and (series[-1].requests, series[-1].errors) == (6, 2)
    assert sum(m.requests for m in series) == 6  # a minute older than the hour is not shown


def test_unsent_minutes_older_than_the_hour_are_dropped_while_redis_is_down():
    h = MinuteHistory()
    for minute in range(3 * MINUTES):
        h.record(T0 + 60 * minute, status=200)
    assert len(h.take_unsent()) == MINUTES


def test_events_and_last_errors_are_taken_once_and_survive_a_round_trip():
    events = RecentEvents()
    events.add_failover([attempt(1, "key_1", RATE_LIMITED, 429, T0), attempt(2, "key_2", OK, 200, T0 + 1)], M)
    taken = events.take_unsent()
    assert [decode_event(encode_event(e)) for e in taken] == taken and events.take_unsent() == []
    assert decode_event(b"not json") is None and decode_event('{"kind": "x"}') is None
    events.give_back(taken)
    assert events.unsent() == taken

    errors = LastErrors()
    errors.note([attempt(1, "key_1", RATE_LIMITED, 429, T0)])
    sent = errors.take_unsent()
    assert {name: decode_error(encode_error(e)) for name, e in sent.items()} == sent == {"key_1": (T0 + 0.1, "rate_limited", 429)}
    assert errors.take_unsent() == {} and decode_error(None) is None and decode_error(b"[1]") is None
    later = {"key_1": (T0 + 50, "server_error", 503)}
    assert errors.of("key_1", later) == {"at": T0 + 50, "outcome": "server_error", "status": 503}
    assert errors.of("key_1", {"key_1": (T0 - 50, "server_error", 503)})["at"] == T0 + 0.1  # its own is later


def test_merged_events_show_each_transition_once_and_every_failover_newest_first():
    cooling = Event(T0, "key.cooling", "key_1", "429", until=T0 + 60)
    failover = Event(T0 + 0.1, "failover", "key_1", "rate_limited (429)", "key_2", M)
    merged = merge_events(
        [
            cooling,
            Event(T0 + 1.2, "key.cooling", "key_1", "429", until=T0 + 60),  # another worker saw the same one
            failover,
            failover,  # two requests failed over at the same instant on two workers: both count
            Event(T0 + 300, "key.cooling", "key_1", "429", until=T0 + 360),  # a later cooldown: its own event
        ]
    )
    shown = [(e.at, e.kind) for e in merged]
    assert shown == [(T0 + 300, "key.cooling"), (T0 + 1.2, "key.cooling"), (T0 + 0.1, "failover"), (T0 + 0.1, "failover")]
    assert len(merge_events([failover] * (MAX_EVENTS + 5))) == MAX_EVENTS


def test_a_key_change_has_the_same_marks_in_every_process_and_a_failover_none():
    seen_here = Event(T0, "key.cooling", "key_1", "429", until=T0 + 60)
    seen_there = Event(T0 + 3, "key.cooling", "key_1", "429", until=T0 + 60)
    assert transition_marks(seen_here) == transition_marks(seen_there) and len(transition_marks(seen_here)) == 3
    assert transition_marks(Event(T0, "key.cooling", "key_2", "429", until=T0 + 60))[0] not in transition_marks(seen_here)
    recovered_here, recovered_later = Event(T0 + 1, "key.recovered", "key_1"), Event(T0 + 12, "key.recovered", "key_1")
    assert transition_marks(recovered_here)[0] in transition_marks(recovered_later)  # a neighbouring bucket
    assert transition_marks(Event(T0, "failover", "key_1", None, "key_2")) == ()


def test_a_session_is_kept_in_redis_as_a_digest_of_the_session_and_the_admin_token():
    member = session_member("admin-token-0123456789", "session-id")
    assert len(member) == 64 and "session-id" not in member and "admin" not in member
    assert member != session_member("another-admin-token", "session-id") != session_member("admin-token-0123456789", "other")


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
