"""Reading the key pool's saved state (KeyPool.snapshot, kept in the state file) back: every
field checked, since the file may be edited, truncated by hand or written by another program.
Any other shape raises SnapshotError naming where, and the pool then starts fresh. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Slot = tuple[str, str]  # (project, model)


class SnapshotError(ValueError):
    """A saved state that is not what snapshot() writes; the message says where."""


@dataclass(frozen=True, slots=True)
class SavedState:
    disabled: dict[str, str]  # key digest -> reason
    cooldowns: dict[Slot, tuple[float, bool, str]]  # (until, daily, reason)
    day_counts: dict[Slot, tuple[str, int]]  # (Pacific day, requests)
    # key digest -> (failures in a row, until, reason) of an open circuit breaker: shared between
    # routers (core/sharedstate.py), never saved in the state file (it lasts a minute at most)
    breakers: dict[str, tuple[int, float, str]] = field(default_factory=dict)


def parse_snapshot(data: Any) -> SavedState:
    """What snapshot() wrote, checked field by field (the file may be edited, truncated by
    hand, or from another program): any other shape raises SnapshotError."""
    if not isinstance(data, Mapping):
        raise SnapshotError(f"expected an object, got {type(data).__name__}")
    keys = _field(data, "keys", Mapping, "state")
    disabled = {str(fingerprint): _field(keys[fingerprint], "disabled", str, f"keys.{str(fingerprint)[:16]}") for fingerprint in keys}
    cooldowns: dict[Slot, tuple[float, bool, str]] = {}
    for i, entry in enumerate(_field(data, "cooldowns", list, "state")):
        where = f"cooldowns[{i}]"
        slot = _slot_of(entry, where)
        until = _number(_field(entry, "until", (int, float), where), f"{where}.until")
        cooldowns[slot] = (until, _field(entry, "daily", bool, where), _field(entry, "reason", str, where))
    day_counts: dict[Slot, tuple[str, int]] = {}
    for i, entry in enumerate(_field(data, "day_counts", list, "state")):
        where = f"day_counts[{i}]"
        slot = _slot_of(entry, where)
        requests = _field(entry, "requests", int, where)
        if requests < 0:
            raise SnapshotError(f"{where}.requests: negative")
        day_counts[slot] = (_field(entry, "day", str, where), requests)
    return SavedState(disabled, cooldowns, day_counts)


def _field(data: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SnapshotError(f"{where}: expected an object")
    if name not in data:
        raise SnapshotError(f"{where}.{name}: missing")
    value = data[name]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise SnapshotError(f"{where}.{name}: unexpected {type(value).__name__}")
    return value


def _slot_of(entry: Any, where: str) -> Slot:
    return (_field(entry, "project", str, where), _field(entry, "model", str, where))


def _number(value: float, where: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise SnapshotError(f"{where}: not a finite number")
    return number
