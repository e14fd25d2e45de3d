"""What the Prometheus series say, decided without prometheus: outcome names, bounded labels,
each key's state at a given time, and the router's own share of a request's time. Pure.

The exporter (edge/metrics.py) owns the prometheus objects and asks this module for every
label value, so no label can carry a key value, a client token or an unbounded name.

Usage:
    outcome_label(attempt.outcome)               # "rate_limited"
    models = ModelLabels(known={"gpt-4o"}, bound=32)
    models.label("gemini-2.5-flash")             # kept; "other" once `bound` names were seen
    key_states(pool, now)                        # [KeyStatus(provider, key, project, state, cooldown_seconds)]
    router_overhead(started, answered, spans)    # seconds spent in the router itself
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool

OUTCOMES = ("ok", "rate_limited", "quota_day", "invalid_key", "server_error", "timeout", "connect_error", "client_error")
KEY_STATES = ("active", "cooling", "parked", "disabled")
OTHER = "other"
NONE = "none"  # a request that named no model (GET /v1/models, a body that did not parse)

_BY_VERDICT = {
    Verdict.OK: "ok",
    Verdict.RATE_LIMITED: "rate_limited",
    Verdict.QUOTA_EXHAUSTED: "quota_day",
    Verdict.KEY_INVALID: "invalid_key",
    Verdict.KEY_FORBIDDEN: "invalid_key",
    Verdict.KEY_PRECONDITION: "invalid_key",
    Verdict.TRANSIENT: "server_error",
    Verdict.CLIENT_ERROR: "client_error",
}
# Key providers in the config name the company; series name the API the router speaks, as the
# upstream plans do (UpstreamPlan.provider), so both kinds of series join on one value.
_PROVIDER_OF_KEY = {"google": "gemini"}
# A model label is a name as a client spells one: a bounded length and a plain charset.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$")


def outcome_label(outcome: Outcome) -> str:
    """One of OUTCOMES for an attempt's outcome. A key that did not answer timed out, or its
    connection failed (refused, reset): the transport names which (edge/upstream.py)."""
    if outcome.verdict is Verdict.UNANSWERED:
        return "timeout" if outcome.reason == "timeout" else "connect_error"
    return _BY_VERDICT[outcome.verdict]


def provider_label(key_provider: str) -> str:
    return _PROVIDER_OF_KEY.get(key_provider, key_provider)


class ModelLabels:
    """The model label of a client's model name. Configured names (aliases) always keep their
    own label; any other well-formed name does while fewer than `bound` such names have been
    seen; everything else is `other`. So a client sending made-up names cannot grow the series
    without limit, and the names seen first keep their series for the router's life."""

    def __init__(self, known: Iterable[str] = (), bound: int = 32) -> None:
        self.known = frozenset(known)
        self.bound = bound
        self._seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return NONE
        if name in self.known or name in self._seen:
            return name
        if len(self._seen) < self.bound and _MODEL_NAME.match(name):
            self._seen.add(name)
            return name
        return OTHER


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """A key as a scrape shows it: names only, never the key's value."""

    provider: str
    key: str  # the configured name
    project: str  # the configured project, or "key:<name>" for a key that is its own project
    state: str  # one of KEY_STATES
    cooldown_seconds: float  # until the key serves again; 0 when active (or disabled for good)


def key_states(pool: KeyPool, now: float) -> list[KeyStatus]:
    """Every key's state now, level-triggered: derived from the pool at each call, so a gauge
    never keeps a state the key has left. `parked`: its project spent a per-day quota (until
    midnight Pacific); `cooling`: a cooldown of its project for some model, or its own breaker
    (it did not answer lately); `disabled`: out until an operator or a reload brings it back."""
    rows = []
    for index, key in enumerate(pool.keys):
        cooldown = pool.cooldown_of(index, now)
        breaker = pool.breaker_of(index, now)
        until = max([c.until for c in (cooldown, breaker) if c is not None], default=now)
        if pool.disabled_reason(index) is not None:
            state, until = "disabled", now
        elif cooldown is not None and cooldown.daily:
            state = "parked"
        elif until > now:
            state = "cooling"
        else:
            state = "active"
        rows.append(KeyStatus(provider_label(key.provider), key.name, key.project_label, state, max(until - now, 0.0)))
    return rows


def router_overhead(started: float, answered: float, upstream_spans: Iterable[tuple[float, float]]) -> float:
    """Seconds between a request's arrival and its answer that were not spent waiting on an
    upstream attempt (each span is an attempt's (started, ended)); never negative."""
    upstream = sum(max(end - start, 0.0) for start, end in upstream_spans)
    return max(answered - started - upstream, 0.0)
