"""Requests sent upstream, counted per quota group for the admin API on every router: each
router tallies its sends (`SendTally`) and adds them to Redis counters (per Pacific day, per
minute, digests of the group's name in the key names: core/rediskeys.py) with its next push; the
admin API reads them back in one round trip and adds what this router has not pushed yet
(`sent_counts`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from hpn_router.core.access import minute_bucket, shared_estimate
from hpn_router.core.classify import next_pacific_midnight
from hpn_router.core.quota import pacific_day
from hpn_router.core.rediskeys import SENT_DAY_TTL_MS, SENT_MINUTE_TTL_MS, sent_day_key, sent_minute_key

if TYPE_CHECKING:  # the pool holds a SendTally: imported for its type only
    from hpn_router.core.keypool import KeyPool

SendCounts = tuple[int, int, int]  # a quota group's sends on every router: this day's, this minute's, the previous minute's


class SendTally:
    """Requests this router sent upstream and has not added to the shared counters yet, per
    quota group, for this Pacific day and by minute. Bounded without Redis too: a minute older
    than the previous one and a past day are dropped as time moves on."""

    def __init__(self) -> None:
        self.day = ""
        self.day_ends = -math.inf  # the next Pacific midnight: no time-zone maths per send
        self.minute = 0  # the minute of the latest send: older minutes are pruned when it moves
        self.by_day: dict[str, int] = {}  # group -> sends this day
        self.by_minute: dict[tuple[str, int], int] = {}  # (group, minute) -> sends

    def __bool__(self) -> bool:
        return bool(self.by_day)

    def add(self, group: str, now: float, count: int = 1) -> None:
        minute = self._roll(now)
        self.by_day[group] = self.by_day.get(group, 0) + count
        self.by_minute[(group, minute)] = self.by_minute.get((group, minute), 0) + count

    def take(self) -> SendTally:
        """Everything tallied so far, handed to a push; this tally starts again from zero."""
        taken = SendTally()
        taken.day, taken.day_ends, taken.minute = self.day, self.day_ends, self.minute
        taken.by_day, taken.by_minute = self.by_day, self.by_minute
        self.by_day, self.by_minute = {}, {}
        return taken

    def put_back(self, taken: SendTally, now: float) -> None:
        """A push that failed: its sends wait for the next one (what is too old by now drops)."""
        self._roll(now)
        if taken.day == self.day:
            for group, count in taken.by_day.items():
                self.by_day[group] = self.by_day.get(group, 0) + count
        minute = minute_bucket(now)[0]
        for key, count in taken.by_minute.items():
            if key[1] >= minute - 1:
                self.by_minute[key] = self.by_minute.get(key, 0) + count

    def increments(self) -> dict[str, tuple[int, int]]:
        """Redis key -> (increment, lifetime in ms) of every count tallied."""
        result: dict[str, tuple[int, int]] = {}
        for group, count in self.by_day.items():
            result[sent_day_key(group, self.day)] = (count, SENT_DAY_TTL_MS)
        for (group, minute), count in self.by_minute.items():
            result[sent_minute_key(group, minute)] = (count, SENT_MINUTE_TTL_MS)
        return result

    def counts(self, group: str, now: float) -> tuple[int, int, int]:
        """(this day's, this minute's, the previous minute's) sends of `group` tallied here."""
        minute = self._roll(now)
        return self.by_day.get(group, 0), self.by_minute.get((group, minute), 0), self.by_minute.get((group, minute - 1), 0)

    def _roll(self, now: float) -> int:
        """Drop a past day's and older minutes' counts; returns `now`'s minute."""
        if now >= self.day_ends or now < self.day_ends - 25 * 3600:  # a new day (or a clock set back)
            today = pacific_day(now)
            if today != self.day:
                self.day, self.by_day = today, {}
            self.day_ends = next_pacific_midnight(now)
        minute = minute_bucket(now)[0]
        if minute > self.minute:  # (a send stamped a little earlier, by a slower request, drops nothing)
            self.minute = minute
            self.by_minute = {k: c for k, c in self.by_minute.items() if k[1] >= minute - 1}
        return minute


def sent_counts(shared: tuple[int, int, int], local: tuple[int, int, int], now: float) -> tuple[int, int]:
    """A group's (requests today, requests in the last minute) on every router: what Redis
    counted (day, this minute, the previous one) plus what this router has not pushed yet; the
    last minute is the sliding estimate the shared budgets use (core/access.shared_estimate)."""
    day, current, previous = (a + b for a, b in zip(shared, local, strict=True))
    return day, shared_estimate(current, previous, minute_bucket(now)[1])


def quota_groups(pool: KeyPool) -> list[str]:
    """The pool's quota groups (a configured project, or a learned organization), each once, in
    the order their send counters are read."""
    return sorted({pool.group(i) for i in range(len(pool.keys))})


def shared_request_counts(pool: KeyPool, sends: Mapping[str, SendCounts], now: float) -> dict[str, tuple[int, int]]:
    """Each quota group's (requests today, requests in the last minute) on every router: what
    Redis counted (`sends`, by group; none: 0) plus what this router has not pushed yet. The
    admin API's and the dashboard's counts."""
    return {group: sent_counts(sends.get(group, (0, 0, 0)), pool.sent.counts(group, now), now) for group in quota_groups(pool)}
