"""The dashboard's events: failovers and key transitions, bounded and newest first; stored in
Redis and read back; each key change once across processes (its marks, the merge)."""

from __future__ import annotations

from dashboardtools import RATE_LIMITED, T0, M, attempt, pool_of
from hpn_router.core.classify import OK, Outcome, Verdict
from hpn_router.core.dashboardevents import MAX_EVENTS, Event, RecentEvents, decode_event, encode_event, merge_events, transition_marks
from hpn_router.core.webhooks import TransitionWatch, key_views, pool_views


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


def test_events_are_taken_once_and_survive_a_round_trip():
    events = RecentEvents()
    events.add_failover([attempt(1, "key_1", RATE_LIMITED, 429, T0), attempt(2, "key_2", OK, 200, T0 + 1)], M)
    taken = events.take_unsent()
    assert [decode_event(encode_event(e)) for e in taken] == taken and events.take_unsent() == []
    assert decode_event(b"not json") is None and decode_event('{"kind": "x"}') is None
    events.give_back(taken)
    assert events.unsent() == taken


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
