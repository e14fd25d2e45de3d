"""What the dashboard's page polls, decided without I/O: each key's row (state, request counts,
last error), the last hour by minute and its totals, and the recent events, as JSON-able values.
Names, states and counts only, never a key's value. Pure: the time is passed in.

The parts it is made of live beside it: the minute history (core/dashboardhistory.py), the
events (core/dashboardevents.py), the last errors (core/dashboarderrors.py); the login sessions
are core/dashboardlogin.py.

Usage:
    data = dashboard_data(pool, now, history, events, errors, admin_actions=True)
    # With Redis (state.redis_url): what every router and worker wrote, read back in one round
    # trip together with each quota group's send counters (sent_keys, in quota_groups(pool) order).
    shared = SharedHistory(minutes, events, errors, sends)
    counts = shared_request_counts(pool, shared.sends, now)
    data = dashboard_data(pool, now, history, events, errors, admin_actions=True, shared=shared, counts=counts)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hpn_router.core.dashboarderrors import LastError, LastErrors
from hpn_router.core.dashboardevents import Event, RecentEvents, merge_events
from hpn_router.core.dashboardhistory import Minute, MinuteHistory
from hpn_router.core.keypool import KeyPool

# The per-group send counts are core/sendtally.py's (the admin API shows them too); `as`: importing
# them from here still works.
from hpn_router.core.sendtally import SendCounts
from hpn_router.core.sendtally import quota_groups as quota_groups
from hpn_router.core.sendtally import shared_request_counts as shared_request_counts
from hpn_router.core.webhooks import KeyView, key_views


@dataclass(frozen=True, slots=True)
class SharedHistory:
    """What every router and worker on one Redis wrote, as the data endpoint read it back:
    the minutes, the events, the keys' last errors and each quota group's send counters."""

    minutes: dict[int, Minute] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    errors: dict[str, LastError] = field(default_factory=dict)
    sends: dict[str, SendCounts] = field(default_factory=dict)


def dashboard_data(
    pool: KeyPool | None,
    now: float,
    history: MinuteHistory,
    events: RecentEvents,
    errors: LastErrors,
    *,
    admin_actions: bool,
    views: Sequence[KeyView] | None = None,
    shared: SharedHistory | None = None,
    redis_down: bool = False,
    counts: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """What the page polls, as JSON-able values: names, states and counts, never a key's value.
    `views`: the key views already computed for this `now` (key_views), to compute them once.
    `shared`: what every process on the shared Redis wrote. `scope` says whose history it is:
    "all" (every router and worker on Redis), "router" (no Redis: this router's), "degraded"
    (`redis_down`: Redis is set but did not answer, so this process's alone). `counts`: requests
    today and in the last minute per project, counted by every router (Redis); None: this pool's."""
    minutes = history.series(now) if shared is None else history.unsent_series(now, shared.minutes)
    shown = events.newest() if shared is None else merge_events([*shared.events, *events.unsent()])
    rows = [] if pool is None else key_rows(pool, now, errors, views=views, shared=shared, counts=counts)
    return {
        "now": now,
        "admin_actions": admin_actions,
        "scope": "all" if shared is not None else "degraded" if redis_down else "router",
        "keys": rows,
        "history": history_columns(minutes),
        "hour": hour_totals(minutes),
        "events": [event_row(e) for e in shown],
    }


def key_rows(
    pool: KeyPool,
    now: float,
    errors: LastErrors,
    *,
    views: Sequence[KeyView] | None = None,
    shared: SharedHistory | None = None,
    counts: Mapping[str, tuple[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """One row per key: its name, provider, project, state, the requests its quota group made
    today and in the last minute, and its last error."""
    by_project = counts if counts is not None else pool.requests_by_project(now)
    shared_errors = shared.errors if shared is not None else None
    rows = []
    for index, view in enumerate(views if views is not None else key_views(pool, now)):
        today, last_minute = by_project.get(pool.group(index), (0, 0))  # a learned group (an organization) too
        rows.append(
            {
                "name": view.key,
                "provider": view.provider,
                "project": view.project,
                "state": view.state,
                "reason": view.reason,
                "until": view.until,
                "requests_last_minute": last_minute,
                "requests_today": today,
                "last_error": errors.of(view.key, shared_errors),
            }
        )
    return rows


def history_columns(minutes: Sequence[Minute]) -> dict[str, list[Any]]:
    """The charts' series, one value per minute, oldest first."""
    return {
        "minute": [m.minute * 60 for m in minutes],
        "requests": [m.requests for m in minutes],
        "errors": [m.errors for m in minutes],
        "cache_lookups": [m.cache_lookups for m in minutes],
        "cache_hits": [m.cache_hits for m in minutes],
        "input_tokens": [m.input_tokens for m in minutes],
        "output_tokens": [m.output_tokens for m in minutes],
        "saved_usd": [round(m.saved_usd, 6) for m in minutes],
    }


def hour_totals(minutes: Sequence[Minute]) -> dict[str, Any]:
    """The hour's requests, error rate, cache hit rate (of the lookups that could hit), tokens
    and saved USD."""
    requests = sum(m.requests for m in minutes)
    lookups = sum(m.cache_lookups for m in minutes)
    return {
        "requests": requests,
        "error_rate": sum(m.errors for m in minutes) / requests if requests else 0.0,
        "cache_hit_rate": sum(m.cache_hits for m in minutes) / lookups if lookups else 0.0,
        "tokens": sum(m.input_tokens + m.output_tokens for m in minutes),
        "saved_usd": round(sum(m.saved_usd for m in minutes), 6),
    }


def event_row(e: Event) -> dict[str, Any]:
    return {"at": e.at, "kind": e.kind, "key": e.key, "to_key": e.to_key, "reason": e.reason, "model": e.model, "until": e.until}
