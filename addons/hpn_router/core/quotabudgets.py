"""The key pool's quota budgets: per quota slot (group, model), the limits configured, the
limits the provider's refusals taught, and the requests and tokens spent.

Quotas belong to a Cloud project and a model (docs/gemini-wire-format.md#quotas), so budgets
and usage are kept per slot, not per key: every key of a project spends the same budget (a
key without a project is its own project; a learned organization is a group too). A slot whose
budget is spent makes the pool skip its keys before the provider has to refuse them
(core/keypool.py). The time is passed in; nothing here sleeps or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpn_router.core.classify import next_pacific_midnight
from hpn_router.core.poolsnapshot import Slot
from hpn_router.core.quota import Limits, Usage, headroom, next_admission, pacific_day


class QuotaBudgets:
    def __init__(self, limits: Mapping[Slot, Limits] | None = None) -> None:
        self.limits = dict(limits or {})  # configured; ("project", "*") applies to every model
        self._learned: dict[Slot, Limits] = {}
        self._usage: dict[Slot, Usage] = {}

    def limits_of(self, slot: Slot) -> Limits:
        """The slot's budget: configured for its model (else for every model), tightened by
        what was learned."""
        group, model = slot
        configured = self.limits.get((group, model)) or self.limits.get((group, "*")) or Limits()
        return configured.merged(self._learned.get(slot, Limits()))

    def headroom(self, slot: Slot, now: float) -> float | None:
        return headroom(self._usage.get(slot), self.limits_of(slot), now)

    def recovery(self, slot: Slot, now: float) -> tuple[float, bool]:
        """When a spent budget admits a request again, and whether that is the daily reset."""
        at = next_admission(self._usage_of(slot), self.limits_of(slot), now)
        return (next_pacific_midnight(now), True) if at is None else (at, False)

    def learn(self, slot: Slot, quota_limit: tuple[str, int]) -> None:
        """A 429 named its quota ("minute" or "day", requests): the slot's budget is that now."""
        window, value = quota_limit
        known = self._learned.get(slot, Limits())
        if window == "minute":
            self._learned[slot] = Limits(value, known.rpd, known.tpm)
        elif window == "day":
            self._learned[slot] = Limits(known.rpm, value, known.tpm)

    def record_request(self, slot: Slot, now: float) -> None:
        self._usage_of(slot).record_request(now)

    def record_tokens(self, slot: Slot, now: float, prompt_tokens: int) -> None:
        self._usage_of(slot).record_tokens(now, prompt_tokens)

    def adopt(self, slot: Slot, now: float, minute_requests: int, day_requests: int, minute_tokens: int) -> None:
        """What every router spent of the slot's budget (shared state)."""
        self._usage_of(slot).raise_to(now, minute_requests, day_requests, minute_tokens)

    # -- usage figures for the admin API ------------------------------------------------

    def requests_today(self, group: str, now: float) -> int:
        return sum(u.day_requests for (p, _), u in self._usage.items() if p == group and u.day == pacific_day(now))

    def requests_last_minute(self, group: str, now: float) -> int:
        total = 0
        for (p, _), usage in self._usage.items():
            if p == group:
                usage.prune(now)
                total += usage.minute_requests()
        return total

    def requests_by_group(self, now: float) -> dict[str, tuple[int, int]]:
        """Each group's (requests today, requests in the last minute), in one pass over the usage."""
        today = pacific_day(now)
        totals: dict[str, tuple[int, int]] = {}
        for (project, _), usage in self._usage.items():
            usage.prune(now)
            day, minute = totals.get(project, (0, 0))
            totals[project] = (day + (usage.day_requests if usage.day == today else 0), minute + usage.minute_requests())
        return totals

    # -- persistence ------------------------------------------------------------------

    def day_counts(self, now: float) -> list[dict[str, Any]]:
        """Today's request counts, as the state file keeps them (snapshot's "day_counts")."""
        return [
            {"project": p, "model": m, "day": u.day, "requests": u.day_requests}
            for (p, m), u in self._usage.items()
            if u.day == pacific_day(now) and u.day_requests
        ]

    def restore_day_count(self, slot: Slot, day: str, requests: int, now: float) -> None:
        """Take back a saved count of today's requests (a count of another day is stale)."""
        if day == pacific_day(now):
            usage = self._usage_of(slot)
            usage.prune(now)
            usage.day_requests = max(usage.day_requests, requests)

    def _usage_of(self, slot: Slot) -> Usage:
        return self._usage.setdefault(slot, Usage())
