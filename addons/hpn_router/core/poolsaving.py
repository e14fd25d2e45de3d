"""The key pool's saved and shared state: what survives a restart, what routers sharing a Redis
exchange, and what a config reload keeps (core/keypool.py rules 8 and 9).

Saved state follows key values, never names or positions: per-key state is filed under the
key's digest, and a key without a project is its own project under that digest too. State of
keys or projects that are gone is dropped; a snapshot of any unexpected shape is refused whole
(SnapshotError), so the pool starts fresh. Routers sharing a Redis (core/sharedstate.py)
exchange changes of that same state, plus open circuit breakers: `adopt` takes another
router's disables, re-enables, cooldowns, trips and closed breakers for this pool's keys and
projects only.

`PoolSaving` is a base of KeyPool: its methods read and write the pool's own state, which
`_PoolState` names, so this part can live apart from picking and reporting.
"""

from __future__ import annotations

from typing import Any, Protocol

from hpn_router.config import KeyConfig
from hpn_router.core.keystates import Breaker, Cooldown
from hpn_router.core.poolsnapshot import SavedState, Slot, parse_snapshot
from hpn_router.core.quotabudgets import QuotaBudgets
from hpn_router.core.sendtally import SendTally
from hpn_router.core.sharedstate import PoolDelta

LEARNED_GROUP = "-group:"  # in a learned group's name: "anthropic-group:<organization id>"


class _PoolState(Protocol):
    """What of the pool the saving reads and writes (KeyPool has it all)."""

    keys: tuple[KeyConfig, ...]
    revision: int
    sent: SendTally
    budgets: QuotaBudgets
    _disabled: dict[int, str]
    _cooldowns: dict[Slot, Cooldown]
    _breakers: dict[int, Breaker]

    def group(self, index: int) -> str: ...

    def saved_state(self, now: float) -> SavedState: ...

    def adopt(self, change: PoolDelta, now: float) -> None: ...

    def _cool_slot(self, slot: Slot, cooldown: Cooldown) -> None: ...


class PoolSaving:
    def adopt(self: _PoolState, change: PoolDelta, now: float) -> None:
        """Take another router's changes (shared state): its disables and re-enables of the
        keys this pool has, its cooldowns (the later deadline wins) and lifted cooldowns of
        this pool's projects. Keys and projects this pool does not have are ignored."""
        by_fingerprint = {k.fingerprint: i for i, k in enumerate(self.keys) if k.enabled}
        for fingerprint in change.enabled:
            if (index := by_fingerprint.get(fingerprint)) is not None:
                self._disabled.pop(index, None)
                self._breakers.pop(index, None)
        for fingerprint, reason in change.disabled.items():
            if (index := by_fingerprint.get(fingerprint)) is not None:
                self._disabled[index] = reason
        for slot in change.lifted:
            self._cooldowns.pop(slot, None)
        projects = {self.group(i) for i in range(len(self.keys))}  # learned organizations too
        for slot, (until, daily, reason) in change.cooled.items():
            if slot[0] in projects and until > now:
                self._cool_slot(slot, Cooldown(until, daily, reason))
        for fingerprint in change.closed:
            if (index := by_fingerprint.get(fingerprint)) is not None:
                self._breakers.pop(index, None)
        for fingerprint, (failures, until, reason) in change.tripped.items():
            index = by_fingerprint.get(fingerprint)
            current = None if index is None else self._breakers.get(index)
            if index is not None and until > now and (current is None or until > current.until):
                self._breakers[index] = Breaker(failures, until, reason)
        self.revision += 1

    def shared_scope(self: _PoolState) -> tuple[frozenset[str], frozenset[str]]:
        """The digests of the keys this pool may speak for (enabled in config) and its projects."""
        return frozenset(k.fingerprint for k in self.keys if k.enabled), frozenset(self.group(i) for i in range(len(self.keys)))

    def saved_state(self: _PoolState, now: float) -> SavedState:
        """What snapshot() saves, as the typed SavedState (shared state compares these)."""
        open_breakers = [(i, b) for i, b in self._breakers.items() if b.until > now]
        return SavedState(
            {self.keys[i].fingerprint: reason for i, reason in self._disabled.items() if self.keys[i].enabled},
            {slot: (c.until, c.daily, c.reason) for slot, c in self._cooldowns.items() if c.until > now},
            {},
            {self.keys[i].fingerprint: (b.failures, b.until, b.reason) for i, b in open_breakers if self.keys[i].enabled},
        )

    def snapshot(self: _PoolState, now: float) -> dict[str, Any]:
        """JSON-able state that should survive a restart. Keys appear by digest (their value
        may move to another name or position), never by value or name."""
        return {
            "keys": {self.keys[i].fingerprint: {"disabled": reason} for i, reason in self._disabled.items() if self.keys[i].enabled},
            "cooldowns": [
                {"project": p, "model": m, "until": c.until, "daily": c.daily, "reason": c.reason}
                for (p, m), c in self._cooldowns.items()
                if c.until > now
            ],
            "day_counts": self.budgets.day_counts(now),
        }

    def restore(self: _PoolState, snapshot: Any, now: float) -> None:
        """Take back what a snapshot says about the keys and projects that still exist.
        Raises SnapshotError, changing nothing, when the snapshot has any other shape."""
        saved = parse_snapshot(snapshot)
        by_fingerprint = {k.fingerprint: i for i, k in enumerate(self.keys)}
        for fingerprint, reason in saved.disabled.items():
            index = by_fingerprint.get(fingerprint)
            if index is not None and self.keys[index].enabled:
                self._disabled[index] = reason
        projects = {self.group(i) for i in range(len(self.keys))}  # learned organizations too
        for slot, (until, daily, reason) in saved.cooldowns.items():
            # A learned group's cooldown stays: its keys rejoin it with their next answer.
            if (slot[0] in projects or LEARNED_GROUP in slot[0]) and until > now:
                self._cool_slot(slot, Cooldown(until, daily, reason))
        for slot, (day, requests) in saved.day_counts.items():
            if slot[0] in projects:
                self.budgets.restore_day_count(slot, day, requests, now)

    def carry_over(self: _PoolState, old: _PoolState, now: float) -> None:
        """What a config reload keeps beyond the snapshot: the open breakers of keys whose
        value stays (not saved in the state file; left behind, shared state would read them as
        closed) and the sends not yet added to the shared counts."""
        self.adopt(PoolDelta(tripped=old.saved_state(now).breakers), now)
        self.sent = old.sent

    def _cool_slot(self: _PoolState, slot: Slot, cooldown: Cooldown) -> None:
        """Cool the slot until `cooldown.until`, unless it already cools longer."""
        current = self._cooldowns.get(slot)
        if current is None or cooldown.until > current.until:
            self._cooldowns[slot] = cooldown
            self.revision += 1
