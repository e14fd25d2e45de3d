"""Shared pool state (Redis), the pure part: what one router writes of its key states, what it
takes from the others, and their wire format. The Redis I/O is edge/sharedstate.py.

The in-memory pool (core/keypool.py) stays the only thing a request reads: no Redis round trip
stands before an upstream call. Routers exchange *changes* of the pool's saved state
(KeyPool.snapshot, parsed into SavedState: keys by the digest of their value, projects by name
or, for a key without one, by that digest too):

- `delta(before, after, now)`: what changed between two states. A cooldown that disappeared
  before its deadline was lifted (an operator re-enabled the key); one that ran out is no news.
- Routers agree on a *baseline*: the state last pushed to or taken from Redis. A router pushes
  `delta(baseline, local)`, and takes `delta(baseline, remote)` from Redis, so a change is never
  undone by a router that simply has not seen it yet.
- After an outage (or when Redis lost its data) nobody knows what the others missed, so both
  sides merge by union (`union`): a cooldown keeps the later deadline, a disable wins. An
  operator's re-enable made during the outage is then lost; re-enable again.

A key's circuit breaker (it did not answer: core/keypool.py rule 5) travels the same way as a
cooldown, by the key's digest: every router passes over the key until the deadline, and an
answer from the key on any router closes it everywhere (`closed`, like a lifted cooldown).

Beside the pool, routers share: where each thing lives in Redis (core/rediskeys.py), config
reloads (core/sharedreload.py), totals (core/sharedtotals.py) and requests sent per quota group
(core/sendtally.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from hpn_router.core.poolsnapshot import SavedState, Slot
from hpn_router.core.rediskeys import PREFIX as PREFIX  # core/dashboard.py names its keys after it

Cooldown = tuple[float, bool, str]  # (until, daily, reason), as SavedState holds it
Tripped = tuple[int, float, str]  # (failures in a row, until, reason): an open circuit breaker


@dataclass(frozen=True, slots=True)
class PoolDelta:
    disabled: dict[str, str] = field(default_factory=dict)  # key digest -> reason (new or changed)
    enabled: frozenset[str] = frozenset()  # key digests no longer disabled
    cooled: dict[Slot, Cooldown] = field(default_factory=dict)  # new or later deadlines
    lifted: frozenset[Slot] = frozenset()  # cooldowns ended before their deadline
    tripped: dict[str, Tripped] = field(default_factory=dict)  # key digest -> a new or later breaker
    closed: frozenset[str] = frozenset()  # key digests whose breaker closed before its deadline (it answered)

    def __bool__(self) -> bool:
        return bool(self.disabled or self.enabled or self.cooled or self.lifted or self.tripped or self.closed)


EMPTY = SavedState({}, {}, {})


def live(state: SavedState, now: float) -> SavedState:
    """The state without its expired cooldowns and breakers (and without day counts: sends are
    counted apart, SendTally)."""
    return SavedState(
        dict(state.disabled),
        {s: c for s, c in state.cooldowns.items() if c[0] > now},
        {},
        {k: b for k, b in state.breakers.items() if b[1] > now},
    )


def delta(before: SavedState, after: SavedState, now: float) -> PoolDelta:
    before, after = live(before, now), live(after, now)
    return PoolDelta(
        disabled={k: r for k, r in after.disabled.items() if before.disabled.get(k) != r},
        enabled=frozenset(before.disabled.keys() - after.disabled.keys()),
        cooled={s: c for s, c in after.cooldowns.items() if s not in before.cooldowns or c[0] > before.cooldowns[s][0]},
        lifted=frozenset(before.cooldowns.keys() - after.cooldowns.keys()),
        tripped={k: b for k, b in after.breakers.items() if k not in before.breakers or b[1] > before.breakers[k][1]},
        closed=frozenset(before.breakers.keys() - after.breakers.keys()),
    )


def apply(state: SavedState, change: PoolDelta, now: float) -> SavedState:
    """`state` with `change` applied (what a router's baseline becomes once it agrees)."""
    state = live(state, now)
    disabled = {k: r for k, r in state.disabled.items() if k not in change.enabled} | change.disabled
    cooldowns = {s: c for s, c in state.cooldowns.items() if s not in change.lifted}
    for slot, cooldown in change.cooled.items():
        if slot not in cooldowns or cooldown[0] > cooldowns[slot][0]:
            cooldowns[slot] = cooldown
    breakers = {k: b for k, b in state.breakers.items() if k not in change.closed}
    for fingerprint, breaker in change.tripped.items():
        if fingerprint not in breakers or breaker[1] > breakers[fingerprint][1]:
            breakers[fingerprint] = breaker
    return live(SavedState(disabled, cooldowns, {}, breakers), now)


def restrict(state: SavedState, fingerprints: frozenset[str], projects: frozenset[str]) -> SavedState:
    """Only what concerns these keys and projects: a router never speaks for a key it does not
    have (a key removed from its config, or disabled there, is not "re-enabled" by it)."""
    return SavedState(
        {k: r for k, r in state.disabled.items() if k in fingerprints},
        {s: c for s, c in state.cooldowns.items() if s[0] in projects},
        {},
        {k: b for k, b in state.breakers.items() if k in fingerprints},
    )


def union(a: SavedState, b: SavedState, now: float) -> SavedState:
    """Both states at once: every disable (a's reason first), every cooldown and breaker at its
    later deadline."""
    a = live(a, now)
    merged = apply(b, PoolDelta(cooled=dict(a.cooldowns), tripped=dict(a.breakers)), now)
    return SavedState(b.disabled | a.disabled, merged.cooldowns, {}, merged.breakers)


# -- wire format: pub/sub messages and cooldown values -----------------------------------------


def encode_cooldown(slot: Slot, cooldown: Cooldown) -> str:
    until, daily, reason = cooldown
    return json.dumps({"project": slot[0], "model": slot[1], "until": until, "daily": daily, "reason": reason})


def decode_cooldown(text: str | bytes) -> tuple[Slot, Cooldown] | None:
    """A cooldown value read from Redis; None for anything else (another program's key)."""
    try:
        data = json.loads(text)
        slot = (data["project"], data["model"])
        cooldown = (float(data["until"]), data["daily"], data["reason"])
    except (ValueError, TypeError, KeyError):
        return None
    if not all(isinstance(x, str) for x in (*slot, cooldown[2])) or not isinstance(cooldown[1], bool) or not math.isfinite(cooldown[0]):
        return None
    return slot, cooldown


def encode_breaker(fingerprint: str, breaker: Tripped) -> str:
    failures, until, reason = breaker
    return json.dumps({"key": fingerprint, "failures": failures, "until": until, "reason": reason})


def decode_breaker(text: str | bytes) -> tuple[str, Tripped] | None:
    """A breaker value read from Redis; None for anything else."""
    try:
        data = json.loads(text)
        fingerprint, failures, until, reason = data["key"], data["failures"], float(data["until"]), data["reason"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(fingerprint, str) and isinstance(reason, str) and math.isfinite(until)):
        return None
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
        return None
    return fingerprint, (failures, until, reason)


def encode_delta(change: PoolDelta, sender: str) -> str:
    return json.dumps(
        {
            "sender": sender,
            "disabled": change.disabled,
            "enabled": sorted(change.enabled),
            "cooled": [json.loads(encode_cooldown(s, c)) for s, c in change.cooled.items()],
            "lifted": [list(s) for s in sorted(change.lifted)],
            "tripped": [json.loads(encode_breaker(k, b)) for k, b in change.tripped.items()],
            "closed": sorted(change.closed),
        }
    )


def decode_delta(text: str | bytes) -> tuple[str, PoolDelta] | None:
    """(sender, delta) of a pub/sub message; None when it is not one this version writes."""
    try:
        data: Any = json.loads(text)
        disabled = {str(k): str(v) for k, v in data["disabled"].items()}
        enabled = frozenset(str(k) for k in data["enabled"])
        cooled = dict(c for c in (decode_cooldown(json.dumps(item)) for item in data["cooled"]) if c is not None)
        lifted = frozenset((str(p), str(m)) for p, m in data["lifted"])
        # Absent from the messages of routers that kept breakers to themselves.
        tripped = dict(b for b in (decode_breaker(json.dumps(item)) for item in data.get("tripped", [])) if b is not None)
        closed = frozenset(str(k) for k in data.get("closed", []))
        sender = str(data["sender"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return sender, PoolDelta(disabled, enabled, cooled, lifted, tripped, closed)
