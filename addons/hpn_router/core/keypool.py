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
   state is filed under the key's digest (core/poolsaving.py).
9. Routers sharing a Redis (core/sharedstate.py) exchange changes of that same saved state,
   plus open circuit breakers (`adopt`, core/poolsaving.py); `revision` counts the changes, so
   a request that changed nothing costs no comparison. Sends are tallied per quota group
   (`sent`) for the shared request counts the admin API shows.

Where the parts live: the values (KeyState, Cooldown, Breaker, Exhaustion) in
core/keystates.py, budgets and usage per (group, model) in core/quotabudgets.py, saving and
sharing in core/poolsaving.py; this module picks keys and applies outcomes.

The pool runs on one asyncio loop and never awaits, so every method is atomic with respect
to concurrent requests; no lock is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hpn_router.config import KeyConfig
from hpn_router.core.classify import DISABLES_KEY, Outcome, Verdict, next_pacific_midnight
from hpn_router.core.keystates import Breaker, Cooldown, Exhaustion, KeyState, project_interleaved, tripped
from hpn_router.core.poolsaving import LEARNED_GROUP, PoolSaving
from hpn_router.core.poolsnapshot import Slot
from hpn_router.core.quota import Limits
from hpn_router.core.quotabudgets import QuotaBudgets
from hpn_router.core.sendtally import SendTally


class KeyPool(PoolSaving):
    def __init__(
        self,
        keys: Sequence[KeyConfig],
        *,
        cooldown_seconds: float,
        limits: Mapping[Slot, Limits] | None = None,
    ) -> None:
        self.keys = tuple(keys)
        self.cooldown_seconds = cooldown_seconds
        self.budgets = QuotaBudgets(limits)
        self._order = project_interleaved(self.keys)
        self._cursor = 0
        self._disabled: dict[int, str] = {i: "disabled in config" for i, k in enumerate(self.keys) if not k.enabled}
        self._cooldowns: dict[Slot, Cooldown] = {}
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
            self._groups[index] = f"{self.keys[index].provider}{LEARNED_GROUP}{group}"

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
        self.budgets.record_request(self._slot(index, model), now)
        self.sent.add(self.group(index), now)

    def quota_of(self, index: int, model: str) -> tuple[Slot, Limits] | None:
        """The key's quota slot (group, model) and its budget there, when one is configured or
        learned; None when nothing limits it."""
        slot = self._slot(index, model)
        limits = self.budgets.limits_of(slot)
        return None if limits == Limits() else (slot, limits)

    def adopt_usage(self, index: int, model: str, now: float, minute_requests: int, day_requests: int, minute_tokens: int) -> None:
        """What every router spent of the key's budget, so picking here sees it too."""
        self.budgets.adopt(self._slot(index, model), now, minute_requests, day_requests, minute_tokens)

    def record_tokens(self, index: int, now: float, model: str, prompt_tokens: int) -> None:
        self.budgets.record_tokens(self._slot(index, model), now, prompt_tokens)

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
            self.budgets.learn(self._slot(index, model), outcome.quota_limit)
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
                recoveries.append(self.budgets.recovery(self._slot(index, model), now))
        return Exhaustion(
            earliest_recovery=min((t for t, _ in recoveries), default=None),
            daily_only=bool(recoveries) and all(daily for _, daily in recoveries),
            all_disabled=all(i in self._disabled for i in indices),
        )

    # -- usage figures for the admin API ------------------------------------------------

    def requests_today(self, index: int, now: float) -> int:
        return self.budgets.requests_today(self.group(index), now)

    def requests_last_minute(self, index: int, now: float) -> int:
        return self.budgets.requests_last_minute(self.group(index), now)

    def requests_by_project(self, now: float) -> dict[str, tuple[int, int]]:
        """Each project's (requests today, requests in the last minute), in one pass over the
        usage: what requests_today and requests_last_minute give per key, for every key at once
        (the dashboard polls it every second)."""
        return self.budgets.requests_by_group(now)

    # -- internals --------------------------------------------------------------------

    def _slot(self, index: int, model: str) -> Slot:
        return (self.group(index), model)

    def _headroom(self, index: int, now: float, model: str) -> float | None:
        return self.budgets.headroom(self._slot(index, model), now)

    def _trip(self, index: int, now: float, reason: str) -> None:
        self._breakers[index] = tripped(self._breakers.get(index), now, reason)
        self.revision += 1

    def _cool(self, index: int, model: str, cooldown: Cooldown) -> None:
        self._cool_slot(self._slot(index, model), cooldown)

    def _cooldown(self, index: int, now: float, model: str) -> Cooldown | None:
        slot = self._slot(index, model)
        cooldown = self._cooldowns.get(slot)
        if cooldown is None:
            return None
        if cooldown.until <= now:
            del self._cooldowns[slot]  # expired: forget it so the dict cannot grow
            return None
        return cooldown
