"""The dashboard's minute history: what a minute counts, the last hour as a ring, and a
minute's counts as Redis keeps them (taken once, given back when a write fails, merged with
what every process wrote)."""

from __future__ import annotations

from dashboardtools import T0
from hpn_router.core.dashboardhistory import MINUTES, Minute, MinuteHistory, minute_fields, minute_from_fields


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
