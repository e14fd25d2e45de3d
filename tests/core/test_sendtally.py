"""Requests sent per quota group: tallied per day and minute, handed to a push once, bounded."""

from __future__ import annotations

from hpn_router.core.rediskeys import sent_keys
from hpn_router.core.sendtally import SendTally, sent_counts

NOW = 1_000_000.0


def test_the_tally_counts_sends_per_group_day_and_minute_and_hands_them_over_once():
    tally = SendTally()
    minute = int(NOW // 60)
    for now in (NOW, NOW + 1, NOW + 60):
        tally.add("proj-a", now)
    tally.add("key:digest", NOW)
    assert tally.counts("proj-a", NOW + 60) == (3, 1, 2)
    taken = tally.take()
    assert not tally and tally.counts("proj-a", NOW + 60) == (0, 0, 0)
    day, this, previous = sent_keys("proj-a", minute + 1, taken.day)
    assert taken.increments()[day] == (3, 25 * 3600 * 1000)
    assert taken.increments()[this] == (1, 120_000) and taken.increments()[previous] == (2, 120_000)
    tally.put_back(taken, NOW + 61)  # the push failed: they go with the next one
    assert tally.counts("proj-a", NOW + 61) == (3, 1, 2)


def test_the_tally_stays_bounded_without_redis():
    tally = SendTally()
    for n in range(500):
        tally.add("proj-a", NOW + 60 * n)
    assert len(tally.by_minute) <= 2 and sum(tally.by_day.values()) <= 500


def test_counts_add_what_this_router_has_not_pushed_and_slide_the_minute():
    minute_start = (NOW // 60) * 60
    # 30 s into the minute: half of the previous minute's 10 still count.
    assert sent_counts((7, 2, 10), (1, 1, 0), minute_start + 30) == (8, 3 + 5)
