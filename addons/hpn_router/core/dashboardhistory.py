"""The dashboard's last hour of traffic, by minute, decided without I/O: a ring of MINUTES
buckets (memory never grows), what this process has not written to Redis yet, and a minute's
counts as Redis keeps them (HINCRBY increments). Pure: every function takes the time.

Usage:
    history = MinuteHistory()
    history.record(now, status=200, cache="HIT", input_tokens=12, output_tokens=30, saved_usd=0.0004)
    history.series(now)                                   # the last hour, oldest first
    # With Redis: each process writes what it has not sent yet (minute_fields; give_back when
    # the write failed), and the charts show what every process wrote plus this one's unsent part.
    minutes = history.take_unsent()
    history.unsent_series(now, {m: minute_from_fields(m, stored)})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hpn_router.core.sharedstate import PREFIX

MINUTES = 60  # the charts' span: the last hour, one bucket per minute

# In Redis, shared by every router and worker on it.
MINUTE_PREFIX = PREFIX + "dash:m:"  # + minute since the epoch: a hash of that minute's counts (HINCRBY)
MINUTE_TTL_SECONDS = MINUTES * 60 + 300  # a minute's hash outlives the charts' hour a little
NANO_USD = 1e9  # saved USD is added in Redis as an integer of 10^-9 USD (HINCRBY)


@dataclass(slots=True)
class Minute:
    """One minute's traffic: answered client requests, of which errors (status >= 400), cache
    lookups that could hit (hits + misses; bypasses are not lookups) and hits, tokens, saved USD."""

    minute: int = -1  # minutes since the epoch; -1: never written
    requests: int = 0
    errors: int = 0
    cache_lookups: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    saved_usd: float = 0.0

    def add(self, other: Minute) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.cache_lookups += other.cache_lookups
        self.cache_hits += other.cache_hits
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.saved_usd += other.saved_usd


_COUNTS = ("requests", "errors", "cache_lookups", "cache_hits", "input_tokens", "output_tokens")
MINUTE_FIELDS = (*_COUNTS, "saved_nano_usd")  # a minute's hash fields, in the order a read returns them


def minute_key(minute: int) -> str:
    return f"{MINUTE_PREFIX}{minute}"


def minute_fields(bucket: Minute) -> dict[str, int]:
    """A minute's counts as HINCRBY increments (saved USD in NANO_USD), the zero ones left out."""
    out = {name: getattr(bucket, name) for name in _COUNTS}
    out["saved_nano_usd"] = round(bucket.saved_usd * NANO_USD)
    return {name: value for name, value in out.items() if value}


def minute_from_fields(minute: int, stored: Mapping[Any, Any]) -> Minute:
    """A minute's hash as Redis returns it (bytes or str names and values); unknown or bad fields
    count as zero."""
    values = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in stored.items()}
    bucket = Minute(minute)
    for name in _COUNTS:
        setattr(bucket, name, _int(values.get(name)))
    bucket.saved_usd = _int(values.get("saved_nano_usd")) / NANO_USD
    return bucket


def _int(value: Any) -> int:
    try:
        return max(int(value), 0) if value is not None else 0
    except (TypeError, ValueError):
        return 0


class MinuteHistory:
    """A ring of MINUTES buckets indexed by the minute: writing to a minute the ring last held an
    hour ago starts it afresh, so the memory never grows and old traffic falls out by itself."""

    def __init__(self) -> None:
        self._ring = [Minute() for _ in range(MINUTES)]
        self._unsent: dict[int, Minute] = {}  # what Redis has not been told yet, by minute

    def _bucket(self, now: float) -> Minute:
        minute = int(now // 60)
        bucket = self._ring[minute % MINUTES]
        if bucket.minute != minute:
            bucket = self._ring[minute % MINUTES] = Minute(minute)
        return bucket

    def record(
        self,
        now: float,
        *,
        status: int,
        cache: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        saved_usd: float = 0.0,
    ) -> None:
        bucket = self._bucket(now)
        minute = bucket.minute
        lookup = cache in ("HIT", "MISS")  # bypasses are not lookups
        one = Minute(minute, 1, int(status >= 400), int(lookup), int(cache == "HIT"), max(input_tokens, 0), max(output_tokens, 0))
        one.saved_usd = max(saved_usd, 0.0)
        bucket.add(one)
        unsent = self._unsent.get(minute)
        if unsent is None:
            unsent = self._unsent[minute] = Minute(minute)
            for old in [m for m in self._unsent if m <= minute - MINUTES]:  # unsent for an hour (Redis down): out of the charts
                del self._unsent[old]
        unsent.add(one)

    def take_unsent(self) -> list[Minute]:
        """What was recorded since the last take, by minute (for one write to Redis)."""
        out, self._unsent = list(self._unsent.values()), {}
        return out

    def give_back(self, minutes: Iterable[Minute]) -> None:
        """A write failed: its counts go with the next one."""
        for m in minutes:
            self._unsent.setdefault(m.minute, Minute(m.minute)).add(m)

    def unsent_series(self, now: float, shared: Mapping[int, Minute]) -> list[Minute]:
        """The last MINUTES minutes as every process wrote them (`shared`, read from Redis) plus
        what this one has not written yet; oldest first."""
        current = int(now // 60)
        out = []
        for minute in range(current - MINUTES + 1, current + 1):
            bucket = Minute(minute)
            for part in (shared.get(minute), self._unsent.get(minute)):
                if part is not None:
                    bucket.add(part)
            out.append(bucket)
        return out

    def series(self, now: float) -> list[Minute]:
        """The last MINUTES minutes, oldest first, the current one last; empty minutes as zeros."""
        current = int(now // 60)
        out = []
        for minute in range(current - MINUTES + 1, current + 1):
            bucket = self._ring[minute % MINUTES]
            out.append(bucket if bucket.minute == minute else Minute(minute))
        return out
