"""The key pool: which key serves the next request, and what a failure does to a key.

Rules (each transition takes the time as an argument; nothing here sleeps or reads a clock):

1. A key is DISABLED for good after an invalid-key, forbidden or precondition failure; the
   reason is kept. Only a config reload or an operator brings it back.
2. Quotas belong to a Cloud project and a model (wire-formats §1.9), so a cooldown is stored
   per (project, model), and cools every key of that project for that model. A key without a
   project is its own project, which makes this the per-key cooldown of the seed.
3. A key is ACTIVE for a model when it is enabled, not disabled and its project is not cooling
   for that model; otherwise it is COOLING (until the cooldown ends) or DISABLED.
4. Picking is round-robin over ACTIVE keys: the cursor moves past the key it returns, so 30
   requests over 3 keys give 10 each.

The pool runs on one asyncio loop and never awaits, so every method is atomic with respect
to concurrent requests; no lock is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from hpn_router.config import KeyConfig
from hpn_router.core.classify import DISABLES_KEY, Outcome, Verdict, next_pacific_midnight


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
class Exhaustion:
    """Why no key could be picked, for the client's 429/503."""

    earliest_recovery: float | None  # None: no key will recover by itself
    daily_only: bool  # every cooling key waits for a per-day reset
    all_disabled: bool


class KeyPool:
    def __init__(self, keys: Sequence[KeyConfig], *, cooldown_seconds: float) -> None:
        self.keys = tuple(keys)
        self.cooldown_seconds = cooldown_seconds
        self._cursor = 0
        self._disabled: dict[int, str] = {i: "disabled in config" for i, k in enumerate(self.keys) if not k.enabled}
        self._cooldowns: dict[tuple[str, str], Cooldown] = {}

    def name(self, index: int) -> str:
        return self.keys[index].name

    def state(self, index: int, now: float, model: str) -> KeyState:
        if index in self._disabled:
            return KeyState.DISABLED
        if self._cooldown(index, now, model) is not None:
            return KeyState.COOLING
        return KeyState.ACTIVE

    def pick(self, now: float, model: str, exclude: set[int] | frozenset[int] = frozenset()) -> int | None:
        """The next ACTIVE key for `model` in round-robin order, skipping `exclude`."""
        count = len(self.keys)
        for step in range(count):
            index = (self._cursor + step) % count
            if index not in exclude and self.state(index, now, model) is KeyState.ACTIVE:
                self._cursor = (index + 1) % count
                return index
        return None

    def has_active(self, now: float, model: str) -> bool:
        return any(self.state(i, now, model) is KeyState.ACTIVE for i in range(len(self.keys)))

    def report(self, index: int, outcome: Outcome, now: float, model: str) -> None:
        """Apply an attempt's outcome to the key that made it."""
        if outcome.verdict in DISABLES_KEY:
            self._disabled[index] = outcome.reason
        elif outcome.verdict is Verdict.RATE_LIMITED:
            delay = outcome.retry_after if outcome.retry_after is not None else self.cooldown_seconds
            self._cool(index, model, Cooldown(now + max(delay, 0.0), False, outcome.reason))
        elif outcome.verdict is Verdict.QUOTA_EXHAUSTED:
            self._cool(index, model, Cooldown(next_pacific_midnight(now), True, outcome.reason))

    def exhaustion(self, now: float, model: str) -> Exhaustion:
        cooling = [c for i in range(len(self.keys)) if (c := self._cooldown(i, now, model)) and i not in self._disabled]
        return Exhaustion(
            earliest_recovery=min((c.until for c in cooling), default=None),
            daily_only=bool(cooling) and all(c.daily for c in cooling),
            all_disabled=len(self._disabled) == len(self.keys),
        )

    def active_count(self) -> int:
        """Keys not disabled (cooldowns are per model, so a cooling key still counts)."""
        return len(self.keys) - len(self._disabled)

    def disabled_reason(self, index: int) -> str | None:
        return self._disabled.get(index)

    def _cool(self, index: int, model: str, cooldown: Cooldown) -> None:
        slot = (self.keys[index].project_id, model)
        current = self._cooldowns.get(slot)
        if current is None or cooldown.until > current.until:
            self._cooldowns[slot] = cooldown

    def _cooldown(self, index: int, now: float, model: str) -> Cooldown | None:
        slot = (self.keys[index].project_id, model)
        cooldown = self._cooldowns.get(slot)
        if cooldown is None:
            return None
        if cooldown.until <= now:
            del self._cooldowns[slot]  # expired: forget it so the dict cannot grow
            return None
        return cooldown
