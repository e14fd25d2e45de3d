"""The key pool: which key serves the next request, and what a failure does to a key.

Rules (each transition takes the time as an argument; nothing here sleeps or reads a clock):

1. A key is DISABLED after an invalid-key, forbidden or precondition failure; the reason is
   kept. Only an operator (admin API) or a config reload brings it back.
2. Quotas belong to a Cloud project and a model (docs/gemini-wire-format.md#quotas), so cooldowns, usage and
   budgets are kept per (project, model): a 429 cools every key of that project for that
   model. A key without a project is its own project.
3. A key is COOLING for a model while its project cools for that model, or while its
   project's configured or learned budget (rpm, rpd, tpm) for that model is spent: such a key
   is skipped before Gemini has to refuse it. Otherwise it is ACTIVE.
4. Picking: among ACTIVE keys, the one whose project has the most headroom goes next; ties
   (and pools without known budgets) go round-robin, in an order that alternates projects so
   load spreads across projects first.
5. A key that did not answer (timeout, reset, refused connection) trips its own circuit
   breaker: it is passed over for 5 s, doubling with each failure in a row up to 60 s, so the
   next requests do not wait for it too (on every router sharing a Redis: rule 9). Any answer
   from the key closes the breaker. A hanging key is a key problem, so this is per key, not
   per project; and when no other key is usable, a tripped key is still tried rather than
   failing the request.
6. A key without a configured project may learn its group from the provider's answers
   (Anthropic's `anthropic-organization-id`: an organization's keys share its limits), after
   which cooldowns, usage and budgets are kept under that group. A configured project wins.
7. Keys belong to one provider (`KeyConfig.provider`): a request picks among its provider's
   keys only, and its exhaustion counts only them.
8. Saved state (snapshot/restore) follows key values, never names or positions: per-key
   state is filed under the key's digest, and a key without a project is its own project
   under that digest too. State of keys or projects that are gone is dropped; a snapshot of
   any unexpected shape is refused whole (SnapshotError), so the pool starts fresh.
9. Routers sharing a Redis (core/sharedstate.py) exchange changes of that same saved state,
   plus open circuit breakers: `adopt` takes another router's disables, re-enables, cooldowns,
   trips and closed breakers for this pool's keys and projects only; `revision` counts the
   changes, so a request that changed nothing costs no comparison. Sends are tallied per quota
   group (`sent`) for the shared request counts the admin API shows.

The pool runs on one asyncio loop and never awaits, so every method is atomic with respect
to concurrent requests; no lock is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import chain, zip_longest
from typing import Any

from hpn_router.config import KeyConfig
from hpn_router.core.classify import DISABLES_KEY, Outcome, Verdict, next_pacific_midnight
from hpn_router.core.poolsnapshot import SavedState, Slot, parse_snapshot
from hpn_router.core.quota import Limits, Usage, headroom, next_admission, pacific_day
from hpn_router.core.sendtally import SendTally
from hpn_router.core.sharedstate import PoolDelta

BREAKER_FIRST_SECONDS = 5.0
BREAKER_MAX_SECONDS = 60.0
_LEARNED_GROUP = "-group:"  # in a learned group's name: "anthropic-group:<organization id>"


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


def project_interleaved(keys: Sequence[KeyConfig]) -> list[int]:
    """Key indices ordered p1k1, p2k1, p1k2, p2k2, ...: round-robin spreads projects first."""
    groups: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key.project_id, []).append(index)
    rounds = zip_longest(*groups.values())
    return [i for i in chain.from_iterable(rounds) if i is not None]


class KeyPool:
    def __init__(
        self,
        keys: Sequence[KeyConfig],
        *,
        cooldown_seconds: float,
        limits: Mapping[Slot, Limits] | None = None,
    ) -> None:
        self.keys = tuple(keys)
        self.cooldown_seconds = cooldown_seconds
        self.limits = dict(limits or {})  # configured; ("project", "*") applies to every model
        self._learned: dict[Slot, Limits] = {}
        self._order = project_interleaved(self.keys)
        self._cursor = 0
        self._disabled: dict[int, str] = {i: "disabled in config" for i, k in enumerate(self.keys) if not k.enabled}
        self._cooldowns: dict[Slot, Cooldown] = {}
        self._usage: dict[Slot, Usage] = {}
        self._breakers: dict[int, Breaker] = {}
        self.revision = 0  # counts changes of what snapshot() saves: a cheap "anything new?" check
        self._groups: dict[int, str] = {}  # learned quota groups of keys without a configured project
        self.sent = SendTally()  # sends not yet added to the shared counts (taken by shared state)

    def group(self, index: int) -> str:
        """The key's quota group: its configured project, else the group it learned, else itself."""
        return self._groups.get(index, self.keys[index].project_id)

    def learn_group(self, index: int, group: str) -> None:
        """The provider said which group (organization) the key belongs to; a configured project wins."""
        if not self.keys[index].project:
            self._groups[index] = f"{self.keys[index].provider}{_LEARNED_GROUP}{group}"

    def name(self, index: int) -> str:
        return self.keys[index].name

    def index_of(self, name: str) -> int | None:
        return next((i for i, k in enumerate(self.keys) if k.name == name), None)

    # -- state ------------------------------------------------------------------------

    def state(self, index: int, now: float, model: str) -> KeyState:
        if index in self._disabled:
            return KeyState.DISABLED
        if self._cooldown(index, now, model) is not None or self._headroom(index, now, model) == 0.0:
            return KeyState.COOLING
        return KeyState.ACTIVE

    def has_active(self, now: float, model: str, provider: str | None = None) -> bool:
        return any(self.state(i, now, model) is KeyState.ACTIVE for i in self._of(provider))

    def _of(self, provider: str | None) -> list[int]:
        """Indices of `provider`'s keys (every key when None)."""
        return [i for i, k in enumerate(self.keys) if provider is None or k.provider == provider]

    def active_count(self) -> int:
        """Keys not disabled (cooldowns are per model, so a cooling key still counts)."""
        return len(self.keys) - len(self._disabled)

    def disabled_reason(self, index: int) -> str | None:
        return self._disabled.get(index)

    def cooldown_of(self, index: int, now: float, model: str | None = None) -> Cooldown | None:
        """The longest-running cooldown of the key's project (any model when model is None)."""
        project = self.group(index)
        found = [c for (p, m), c in self._cooldowns.items() if p == project and (model is None or m == model) and c.until > now]
        return max(found, key=lambda c: c.until, default=None)

    def breaker_of(self, index: int, now: float) -> Breaker | None:
        """The key's open circuit breaker (it did not answer lately), if any."""
        breaker = self._breakers.get(index)
        return breaker if breaker is not None and breaker.until > now else None

    def unanswered_count(self, now: float) -> int:
        """Keys passed over right now because they did not answer."""
        return sum(1 for i in self._breakers if self.breaker_of(i, now) is not None and i not in self._disabled)

    # -- picking ----------------------------------------------------------------------

    def pick(self, now: float, model: str, exclude: set[int] | frozenset[int] = frozenset(), provider: str | None = None) -> int | None:
        """The next ACTIVE key of `provider` (any, when None) for `model`, skipping `exclude`; a
        key whose breaker is open only when no other key is usable."""
        if provider is not None:
            exclude = set(exclude) | {i for i, k in enumerate(self.keys) if k.provider != provider}
        best = self._best(now, model, exclude, skip_tripped=True)
        if best is None:
            best = self._best(now, model, exclude, skip_tripped=False)
        if best is None:
            return None
        self._cursor = (best + 1) % len(self._order)
        return self._order[best]

    def _best(self, now: float, model: str, exclude: set[int] | frozenset[int], *, skip_tripped: bool) -> int | None:
        """The position in the rotation of the key with the most headroom (the first, on ties)."""
        count = len(self._order)
        best: tuple[float, int] | None = None  # (headroom, position in the rotation)
        for step in range(count):
            position = (self._cursor + step) % count
            index = self._order[position]
            if index in exclude or index in self._disabled or self._cooldown(index, now, model) is not None:
                continue
            if skip_tripped and self.breaker_of(index, now) is not None:
                continue
            room = self._headroom(index, now, model)  # once: state() would compute it again
            if room == 0.0:
                continue  # budget spent: COOLING
            if room is None:  # no budget known: plain round-robin
                best = (2.0, position)
                break
            if best is None or room > best[0]:
                best = (room, position)
        return None if best is None else best[1]

    # -- reports ----------------------------------------------------------------------

    def record_send(self, index: int, now: float, model: str) -> None:
        """An attempt went out with this key: it counts against its project's budget."""
        self._usage.setdefault(self._slot(index, model), Usage()).record_request(now)
        self.sent.add(self.group(index), now)

    def quota_of(self, index: int, model: str) -> tuple[Slot, Limits] | None:
        """The key's quota slot (group, model) and its budget there, when one is configured or
        learned; None when nothing limits it."""
        limits = self._limits(index, model)
        return None if limits == Limits() else (self._slot(index, model), limits)

    def adopt_usage(self, index: int, model: str, now: float, minute_requests: int, day_requests: int, minute_tokens: int) -> None:
        """What every router spent of the key's budget, so picking here sees it too."""
        self._usage.setdefault(self._slot(index, model), Usage()).raise_to(now, minute_requests, day_requests, minute_tokens)

    def record_tokens(self, index: int, now: float, model: str, prompt_tokens: int) -> None:
        self._usage.setdefault(self._slot(index, model), Usage()).record_tokens(now, prompt_tokens)

    def report(self, index: int, outcome: Outcome, now: float, model: str) -> None:
        """Apply an attempt's outcome to the key that made it."""
        if outcome.verdict is Verdict.UNANSWERED:
            self._trip(index, now, outcome.reason)
            return
        if self._breakers.pop(index, None) is not None:  # the key answered: its connection is fine
            self.revision += 1  # other routers close their copy of the breaker too
        if outcome.verdict in DISABLES_KEY:
            self._disabled[index] = outcome.reason
            self.revision += 1
            return
        if outcome.quota_limit is not None:
            self._learn(index, model, outcome)
        if outcome.verdict is Verdict.RATE_LIMITED:
            delay = outcome.retry_after if outcome.retry_after is not None else self.cooldown_seconds
            self._cool(index, model, Cooldown(now + max(delay, 0.0), False, outcome.reason))
        elif outcome.verdict is Verdict.QUOTA_EXHAUSTED:
            self._cool(index, model, Cooldown(next_pacific_midnight(now), True, outcome.reason))

    def enable(self, index: int) -> None:
        """An operator re-enables a key: forget its disable reason, breaker and cooldowns."""
        self._disabled.pop(index, None)
        self._breakers.pop(index, None)
        project = self.group(index)
        for slot in [s for s in self._cooldowns if s[0] == project]:
            del self._cooldowns[slot]
        self.revision += 1

    def adopt(self, change: PoolDelta, now: float) -> None:
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

    def shared_scope(self) -> tuple[frozenset[str], frozenset[str]]:
        """The digests of the keys this pool may speak for (enabled in config) and its projects."""
        return frozenset(k.fingerprint for k in self.keys if k.enabled), frozenset(self.group(i) for i in range(len(self.keys)))

    def saved_state(self, now: float) -> SavedState:
        """What snapshot() saves, as the typed SavedState (shared state compares these)."""
        return SavedState(
            {self.keys[i].fingerprint: reason for i, reason in self._disabled.items() if self.keys[i].enabled},
            {slot: (c.until, c.daily, c.reason) for slot, c in self._cooldowns.items() if c.until > now},
            {},
            {self.keys[i].fingerprint: (b.failures, b.until, b.reason) for i, b in self._open_breakers(now) if self.keys[i].enabled},
        )

    def exhaustion(self, now: float, model: str, provider: str | None = None) -> Exhaustion:
        recoveries: list[tuple[float, bool]] = []
        indices = self._of(provider)
        for index in indices:
            if index in self._disabled:
                continue
            cooldown = self._cooldown(index, now, model)
            if cooldown is not None:
                recoveries.append((cooldown.until, cooldown.daily))
            elif self._headroom(index, now, model) == 0.0:
                recoveries.append(self._budget_recovery(index, now, model))
        return Exhaustion(
            earliest_recovery=min((t for t, _ in recoveries), default=None),
            daily_only=bool(recoveries) and all(daily for _, daily in recoveries),
            all_disabled=all(i in self._disabled for i in indices),
        )

    # -- usage figures for the admin API ------------------------------------------------

    def requests_today(self, index: int, now: float) -> int:
        return sum(u.day_requests for (p, _), u in self._usage.items() if p == self.group(index) and u.day == pacific_day(now))

    def requests_last_minute(self, index: int, now: float) -> int:
        project = self.group(index)
        total = 0
        for (p, _), usage in self._usage.items():
            if p == project:
                usage.prune(now)
                total += usage.minute_requests()
        return total

    def requests_by_project(self, now: float) -> dict[str, tuple[int, int]]:
        """Each project's (requests today, requests in the last minute), in one pass over the
        usage: what requests_today and requests_last_minute give per key, for every key at once
        (the dashboard polls it every second)."""
        today = pacific_day(now)
        totals: dict[str, tuple[int, int]] = {}
        for (project, _), usage in self._usage.items():
            usage.prune(now)
            day, minute = totals.get(project, (0, 0))
            totals[project] = (day + (usage.day_requests if usage.day == today else 0), minute + usage.minute_requests())
        return totals

    # -- persistence ------------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        """JSON-able state that should survive a restart. Keys appear by digest (their value
        may move to another name or position), never by value or name."""
        return {
            "keys": {self.keys[i].fingerprint: {"disabled": reason} for i, reason in self._disabled.items() if self.keys[i].enabled},
            "cooldowns": [
                {"project": p, "model": m, "until": c.until, "daily": c.daily, "reason": c.reason}
                for (p, m), c in self._cooldowns.items()
                if c.until > now
            ],
            "day_counts": [
                {"project": p, "model": m, "day": u.day, "requests": u.day_requests}
                for (p, m), u in self._usage.items()
                if u.day == pacific_day(now) and u.day_requests
            ],
        }

    def restore(self, snapshot: Any, now: float) -> None:
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
            if (slot[0] in projects or _LEARNED_GROUP in slot[0]) and until > now:
                self._cool_slot(slot, Cooldown(until, daily, reason))
        for slot, (day, requests) in saved.day_counts.items():
            if slot[0] in projects and day == pacific_day(now):
                usage = self._usage.setdefault(slot, Usage())
                usage.prune(now)
                usage.day_requests = max(usage.day_requests, requests)

    def carry_over(self, old: KeyPool, now: float) -> None:
        """What a config reload keeps beyond the snapshot: the open breakers of keys whose
        value stays (not saved in the state file; left behind, shared state would read them as
        closed) and the sends not yet added to the shared counts."""
        self.adopt(PoolDelta(tripped=old.saved_state(now).breakers), now)
        self.sent = old.sent

    # -- internals --------------------------------------------------------------------

    def _slot(self, index: int, model: str) -> Slot:
        return (self.group(index), model)

    def _limits(self, index: int, model: str) -> Limits:
        project = self.group(index)
        configured = self.limits.get((project, model)) or self.limits.get((project, "*")) or Limits()
        return configured.merged(self._learned.get((project, model), Limits()))

    def _headroom(self, index: int, now: float, model: str) -> float | None:
        return headroom(self._usage.get(self._slot(index, model)), self._limits(index, model), now)

    def _budget_recovery(self, index: int, now: float, model: str) -> tuple[float, bool]:
        usage = self._usage.setdefault(self._slot(index, model), Usage())
        at = next_admission(usage, self._limits(index, model), now)
        return (next_pacific_midnight(now), True) if at is None else (at, False)

    def _learn(self, index: int, model: str, outcome: Outcome) -> None:
        assert outcome.quota_limit is not None
        window, value = outcome.quota_limit
        slot = self._slot(index, model)
        known = self._learned.get(slot, Limits())
        if window == "minute":
            self._learned[slot] = Limits(value, known.rpd, known.tpm)
        elif window == "day":
            self._learned[slot] = Limits(known.rpm, value, known.tpm)

    def _open_breakers(self, now: float) -> list[tuple[int, Breaker]]:
        return [(i, b) for i, b in self._breakers.items() if b.until > now]

    def _trip(self, index: int, now: float, reason: str) -> None:
        failures = (self._breakers[index].failures if index in self._breakers else 0) + 1
        skip = min(BREAKER_FIRST_SECONDS * 2 ** (failures - 1), BREAKER_MAX_SECONDS)
        self._breakers[index] = Breaker(failures, now + skip, reason)
        self.revision += 1

    def _cool(self, index: int, model: str, cooldown: Cooldown) -> None:
        self._cool_slot(self._slot(index, model), cooldown)

    def _cool_slot(self, slot: Slot, cooldown: Cooldown) -> None:
        current = self._cooldowns.get(slot)
        if current is None or cooldown.until > current.until:
            self._cooldowns[slot] = cooldown
            self.revision += 1

    def _cooldown(self, index: int, now: float, model: str) -> Cooldown | None:
        slot = self._slot(index, model)
        cooldown = self._cooldowns.get(slot)
        if cooldown is None:
            return None
        if cooldown.until <= now:
            del self._cooldowns[slot]  # expired: forget it so the dict cannot grow
            return None
        return cooldown
