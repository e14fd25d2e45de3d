"""What the key pool (core/keypool.py) says about a key, and the values behind it.

A key is ACTIVE, COOLING (its quota group cools or spent its budget for the model) or DISABLED
(an invalid, forbidden or not-permitted key, until an operator or a reload brings it back). A
cooldown and a circuit breaker (the key did not answer) are values with a deadline; the
breaker's skip doubles with each failure in a row, from 5 s up to 60 s. `project_interleaved`
is the rotation order, which spreads load across projects first. Plain values and pure
functions, so the pool, the admin API and the shared state all read the same types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import chain, zip_longest

from hpn_router.config import KeyConfig

BREAKER_FIRST_SECONDS = 5.0
BREAKER_MAX_SECONDS = 60.0


class KeyState(Enum):
    ACTIVE = "active"
    COOLING = "cooling"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Cooldown:
    until: float
    daily: bool  # a per-day quota: the client is told insufficient_quota, not "retry soon"
    reason: str


@dataclass(frozen=True, slots=True)
class Breaker:
    """A key that did not answer `failures` times in a row is passed over until `until`."""

    failures: int
    until: float
    reason: str  # the last failure: "timeout", "connection error (...)"


@dataclass(frozen=True, slots=True)
class Exhaustion:
    """Why no key could be picked, for the client's 429/503."""

    earliest_recovery: float | None  # None: no key will recover by itself
    daily_only: bool  # every cooling key waits for a per-day reset
    all_disabled: bool


def tripped(previous: Breaker | None, now: float, reason: str) -> Breaker:
    """The breaker after one more failure to answer: the skip doubles with each in a row."""
    failures = (previous.failures if previous is not None else 0) + 1
    skip = min(BREAKER_FIRST_SECONDS * 2 ** (failures - 1), BREAKER_MAX_SECONDS)
    return Breaker(failures, now + skip, reason)


def project_interleaved(keys: Sequence[KeyConfig]) -> list[int]:
    """Key indices ordered p1k1, p2k1, p1k2, p2k2, ...: round-robin spreads projects first."""
    groups: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key.project_id, []).append(index)
    rounds = zip_longest(*groups.values())
    return [i for i in chain.from_iterable(rounds) if i is not None]
