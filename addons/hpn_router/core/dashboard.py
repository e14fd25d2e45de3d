"""What the dashboard shows, decided without I/O: the last hour of traffic by minute, the recent
failovers and key transitions, each key's last error, the login sessions, and the data the page
polls. Pure: every function takes the time.

Everything here is bounded: 60 minute buckets, MAX_EVENTS events, one last error per configured
key, MAX_SESSIONS sessions. Keys appear by name only, never by value.

Usage:
    history = MinuteHistory()
    history.record(now, status=200, cache="HIT", input_tokens=12, output_tokens=30, saved_usd=0.0004)
    events = RecentEvents()
    events.add_failover(now, attempts, model)              # a request that tried another key
    events.add_transitions(watch.observe(key_views(pool, now), {}, now))
    errors = LastErrors()
    errors.note(attempts)
    data = dashboard_data(pool, now, history, events, errors, admin_actions=True)
    sessions = Sessions()
    sid = sessions.open(now)                              # the cookie's value; sessions.valid(sid, now)
    throttle = LoginThrottle()                            # throttle.retry_after(now); throttle.failed(now)
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hpn_router.core.failover import Attempt
from hpn_router.core.keypool import KeyPool
from hpn_router.core.metrics import outcome_label
from hpn_router.core.webhooks import KeyView, WebhookEvent, key_views

MINUTES = 60  # the charts' span: the last hour, one bucket per minute
MAX_EVENTS = 50
MAX_SESSIONS = 32  # a new login beyond this ends the oldest session
SESSION_SECONDS = 12 * 3600
MAX_FAILED_LOGINS = 10  # wrong tokens per LOGIN_WINDOW_SECONDS, from anyone; then the form waits
LOGIN_WINDOW_SECONDS = 60.0


@dataclass(slots=True)
class Minute:
    """One minute's traffic: answered client requests, of which errors (status >= 400), cache
    lookups that could hit (hits + misses; bypasses are not lookups) and hits, tokens, saved USD."""

    minute: int = -1  # minutes since the epoch; -1: never written
    requests: int = 0
    errors: int = 0
    cache_lookups: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    saved_usd: float = 0.0


class MinuteHistory:
    """A ring of MINUTES buckets indexed by the minute: writing to a minute the ring last held an
    hour ago starts it afresh, so the memory never grows and old traffic falls out by itself."""

    def __init__(self) -> None:
        self._ring = [Minute() for _ in range(MINUTES)]

    def _bucket(self, now: float) -> Minute:
        minute = int(now // 60)
        bucket = self._ring[minute % MINUTES]
        if bucket.minute != minute:
            bucket = self._ring[minute % MINUTES] = Minute(minute)
        return bucket

    def record(
        self,
        now: float,
        *,
        status: int,
        cache: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        saved_usd: float = 0.0,
    ) -> None:
        bucket = self._bucket(now)
        bucket.requests += 1
        bucket.errors += status >= 400
        if cache in ("HIT", "MISS"):
            bucket.cache_lookups += 1
            bucket.cache_hits += cache == "HIT"
        bucket.input_tokens += max(input_tokens, 0)
        bucket.output_tokens += max(output_tokens, 0)
        bucket.saved_usd += max(saved_usd, 0.0)

    def series(self, now: float) -> list[Minute]:
        """The last MINUTES minutes, oldest first, the current one last; empty minutes as zeros."""
        current = int(now // 60)
        out = []
        for minute in range(current - MINUTES + 1, current + 1):
            bucket = self._ring[minute % MINUTES]
            out.append(bucket if bucket.minute == minute else Minute(minute))
        return out


@dataclass(frozen=True, slots=True)
class Event:
    """A failover (a request moved from `key` to `to_key` after `reason`) or a key's transition
    (`kind` is the webhook event type: key.cooling, key.disabled, key.recovered)."""

    at: float
    kind: str
    key: str
    reason: str | None = None
    to_key: str | None = None
    model: str | None = None
    until: float | None = None


class RecentEvents:
    """The newest MAX_EVENTS events, newest first."""

    def __init__(self, capacity: int = MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=capacity)

    def add_failover(self, attempts: Sequence[Attempt], model: str | None) -> None:
        """Each attempt that failed and was followed by another key's attempt is one failover."""
        for failed, next_attempt in zip(attempts, attempts[1:], strict=False):
            reason = outcome_label(failed.outcome)
            status = f" ({failed.status})" if failed.status is not None else ""
            self._events.appendleft(Event(failed.ended, "failover", failed.key_name, reason + status, next_attempt.key_name, model))

    def add_transitions(self, events: Iterable[WebhookEvent]) -> None:
        for e in events:
            if e.key is not None:
                self._events.appendleft(Event(e.at, e.type, e.key, e.reason, until=e.until))

    def newest(self) -> list[Event]:
        return list(self._events)


class LastErrors:
    """Each key's last failed attempt: when, the outcome's name (core/metrics.OUTCOMES) and the
    upstream status. Only names of configured keys are kept (`forget_except` after a reload)."""

    def __init__(self) -> None:
        self._errors: dict[str, tuple[float, str, int | None]] = {}

    def note(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            label = outcome_label(attempt.outcome)
            if label != "ok":
                self._errors[attempt.key_name] = (attempt.ended, label, attempt.status)

    def of(self, key: str) -> dict[str, Any] | None:
        error = self._errors.get(key)
        return None if error is None else {"at": error[0], "outcome": error[1], "status": error[2]}

    def forget_except(self, names: Iterable[str]) -> None:
        keep = set(names)
        self._errors = {name: error for name, error in self._errors.items() if name in keep}


class Sessions:
    """Dashboard login sessions: random ids (the cookie's value; never derived from the admin
    token), each valid for SESSION_SECONDS. At most MAX_SESSIONS: a new one ends the oldest."""

    def __init__(self, capacity: int = MAX_SESSIONS, lifetime: float = SESSION_SECONDS) -> None:
        self.capacity = capacity
        self.lifetime = lifetime
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def open(self, now: float) -> str:
        session = secrets.token_urlsafe(32)
        self._expiry[session] = now + self.lifetime
        while len(self._expiry) > self.capacity:
            self._expiry.popitem(last=False)
        return session

    def valid(self, session: str | None, now: float) -> bool:
        if not session:
            return False
        # Constant time over the candidates: a timing difference must not tell how much of a
        # guessed id is right.
        found = None
        for known, expiry in self._expiry.items():
            if secrets.compare_digest(known.encode(), session.encode()):
                found = (known, expiry)
        if found is None:
            return False
        if found[1] <= now:
            del self._expiry[found[0]]
            return False
        return True

    def close(self, session: str | None) -> None:
        if session:
            self._expiry.pop(session, None)

    def clear(self) -> None:
        """The admin token changed: every session it opened ends."""
        self._expiry.clear()


class LoginThrottle:
    """At most `limit` wrong tokens at the login form per `window` seconds, from all callers
    together (bounded memory, whatever the number of addresses): guessing stays hopeless even
    for a short token. The bearer header and open sessions are not throttled, so an attacker
    who fills the window does not lock the operator out."""

    def __init__(self, limit: int = MAX_FAILED_LOGINS, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._failures: deque[float] = deque(maxlen=limit)

    def retry_after(self, now: float) -> float | None:
        """Seconds until the form takes a token again, or None when it does now."""
        if len(self._failures) < self.limit:
            return None
        wait = self._failures[0] + self.window - now
        return wait if wait > 0 else None

    def failed(self, now: float) -> None:
        self._failures.append(now)


def dashboard_data(
    pool: KeyPool | None,
    now: float,
    history: MinuteHistory,
    events: RecentEvents,
    errors: LastErrors,
    *,
    admin_actions: bool,
    views: Sequence[KeyView] | None = None,
) -> dict[str, Any]:
    """What the page polls, as JSON-able values: names, states and counts, never a key's value.
    `views`: the key views already computed for this `now` (key_views), to compute them once."""
    keys = []
    if pool is not None:
        by_project = pool.requests_by_project(now)
        for index, view in enumerate(views if views is not None else key_views(pool, now)):
            today, last_minute = by_project.get(pool.keys[index].project_id, (0, 0))
            keys.append(
                {
                    "name": view.key,
                    "provider": view.provider,
                    "project": view.project,
                    "state": view.state,
                    "reason": view.reason,
                    "until": view.until,
                    "requests_last_minute": last_minute,
                    "requests_today": today,
                    "last_error": errors.of(view.key),
                }
            )
    minutes = history.series(now)
    requests = sum(m.requests for m in minutes)
    lookups = sum(m.cache_lookups for m in minutes)
    return {
        "now": now,
        "admin_actions": admin_actions,
        "keys": keys,
        "history": {
            "minute": [m.minute * 60 for m in minutes],
            "requests": [m.requests for m in minutes],
            "errors": [m.errors for m in minutes],
            "cache_lookups": [m.cache_lookups for m in minutes],
            "cache_hits": [m.cache_hits for m in minutes],
            "input_tokens": [m.input_tokens for m in minutes],
            "output_tokens": [m.output_tokens for m in minutes],
            "saved_usd": [round(m.saved_usd, 6) for m in minutes],
        },
        "hour": {
            "requests": requests,
            "error_rate": sum(m.errors for m in minutes) / requests if requests else 0.0,
            "cache_hit_rate": sum(m.cache_hits for m in minutes) / lookups if lookups else 0.0,
            "tokens": sum(m.input_tokens + m.output_tokens for m in minutes),
            "saved_usd": round(sum(m.saved_usd for m in minutes), 6),
        },
        "events": [
            {"at": e.at, "kind": e.kind, "key": e.key, "to_key": e.to_key, "reason": e.reason, "model": e.model, "until": e.until}
            for e in events.newest()
        ],
    }
