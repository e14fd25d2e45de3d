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
    # With Redis (state.redis_url): each process writes what it has not sent yet, once a second
    # (minute_fields, encode_event, encode_error; give_back when the write failed), and the data
    # shows what every router and worker wrote plus this one's unsent part.
    minutes, new_events, new_errors = history.take_unsent(), events.take_unsent(), errors.take_unsent()
    shared = SharedHistory({m: minute_from_fields(m, stored)}, [decode_event(raw)], {name: decode_error(raw)})
    data = dashboard_data(pool, now, history, events, errors, admin_actions=True, shared=shared)
    sessions = Sessions()
    sid = sessions.open(now)                              # the cookie's value; sessions.valid(sid, now)
    throttle = LoginThrottle()                            # throttle.retry_after(now); throttle.failed(now)
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from hpn_router.core.failover import Attempt
from hpn_router.core.keypool import KeyPool
from hpn_router.core.metrics import outcome_label
from hpn_router.core.sharedstate import PREFIX
from hpn_router.core.webhooks import DEDUP_BUCKET_SECONDS, KeyView, WebhookEvent, key_views

MINUTES = 60  # the charts' span: the last hour, one bucket per minute
MAX_EVENTS = 50
MAX_SESSIONS = 32  # a new login beyond this ends the oldest session
SESSION_SECONDS = 12 * 3600
MAX_FAILED_LOGINS = 10  # wrong tokens per LOGIN_WINDOW_SECONDS, from anyone; then the form waits
LOGIN_WINDOW_SECONDS = 60.0

# In Redis, shared by every router and worker on it: key names, never key values.
MINUTE_PREFIX = PREFIX + "dash:m:"  # + minute since the epoch: a hash of that minute's counts (HINCRBY)
MINUTE_TTL_SECONDS = MINUTES * 60 + 300  # a minute's hash outlives the charts' hour a little
EVENTS_LIST = PREFIX + "dash:events"  # newest first (LPUSH), trimmed to SHARED_EVENTS
SHARED_EVENTS = MAX_EVENTS  # each key change is pushed once (transition_marks), so no room for copies is needed
ERRORS_HASH = PREFIX + "dash:errors"  # key name -> its last error (JSON)
SESSIONS_ZSET = PREFIX + "dash:sessions"  # session_member -> expiry (seconds)
TRANSITION_PREFIX = PREFIX + "dash:t:"  # + transition_marks: this key change is in the list already
TRANSITION_MARK_SECONDS = 600  # how long such a mark stays
SAME_TRANSITION_SECONDS = 10.0  # one transition seen by several processes: their copies this close are one
NANO_USD = 1e9  # saved USD is added in Redis as an integer of 10^-9 USD (HINCRBY)
MAX_UNSENT_EVENTS = MAX_EVENTS  # events kept for the next write while Redis is down

LastError = tuple[float, str, int | None]  # a key's last failed attempt: when, the outcome's name, the status


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

    def add(self, other: Minute) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.cache_lookups += other.cache_lookups
        self.cache_hits += other.cache_hits
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.saved_usd += other.saved_usd


_COUNTS = ("requests", "errors", "cache_lookups", "cache_hits", "input_tokens", "output_tokens")
MINUTE_FIELDS = (*_COUNTS, "saved_nano_usd")  # a minute's hash fields, in the order a read returns them


def minute_key(minute: int) -> str:
    return f"{MINUTE_PREFIX}{minute}"


def minute_fields(bucket: Minute) -> dict[str, int]:
    """A minute's counts as HINCRBY increments (saved USD in NANO_USD), the zero ones left out."""
    out = {name: getattr(bucket, name) for name in _COUNTS}
    out["saved_nano_usd"] = round(bucket.saved_usd * NANO_USD)
    return {name: value for name, value in out.items() if value}


def minute_from_fields(minute: int, stored: Mapping[Any, Any]) -> Minute:
    """A minute's hash as Redis returns it (bytes or str names and values); unknown or bad fields
    count as zero."""
    values = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in stored.items()}
    bucket = Minute(minute)
    for name in _COUNTS:
        setattr(bucket, name, _int(values.get(name)))
    bucket.saved_usd = _int(values.get("saved_nano_usd")) / NANO_USD
    return bucket


def _int(value: Any) -> int:
    try:
        return max(int(value), 0) if value is not None else 0
    except (TypeError, ValueError):
        return 0


class MinuteHistory:
    """A ring of MINUTES buckets indexed by the minute: writing to a minute the ring last held an
    hour ago starts it afresh, so the memory never grows and old traffic falls out by itself."""

    def __init__(self) -> None:
        self._ring = [Minute() for _ in range(MINUTES)]
        self._unsent: dict[int, Minute] = {}  # what Redis has not been told yet, by minute

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
        minute = bucket.minute
        lookup = cache in ("HIT", "MISS")  # bypasses are not lookups
        one = Minute(minute, 1, int(status >= 400), int(lookup), int(cache == "HIT"), max(input_tokens, 0), max(output_tokens, 0))
        one.saved_usd = max(saved_usd, 0.0)
        bucket.add(one)
        unsent = self._unsent.get(minute)
        if unsent is None:
            unsent = self._unsent[minute] = Minute(minute)
            for old in [m for m in self._unsent if m <= minute - MINUTES]:  # unsent for an hour (Redis down): out of the charts
                del self._unsent[old]
        unsent.add(one)

    def take_unsent(self) -> list[Minute]:
        """What was recorded since the last take, by minute (for one write to Redis)."""
        out, self._unsent = list(self._unsent.values()), {}
        return out

    def give_back(self, minutes: Iterable[Minute]) -> None:
        """A write failed: its counts go with the next one."""
        for m in minutes:
            self._unsent.setdefault(m.minute, Minute(m.minute)).add(m)

    def unsent_series(self, now: float, shared: Mapping[int, Minute]) -> list[Minute]:
        """The last MINUTES minutes as every process wrote them (`shared`, read from Redis) plus
        what this one has not written yet; oldest first."""
        current = int(now // 60)
        out = []
        for minute in range(current - MINUTES + 1, current + 1):
            bucket = Minute(minute)
            for part in (shared.get(minute), self._unsent.get(minute)):
                if part is not None:
                    bucket.add(part)
            out.append(bucket)
        return out

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
        self._unsent: deque[Event] = deque(maxlen=MAX_UNSENT_EVENTS)  # oldest first, for Redis

    def _add(self, event: Event) -> None:
        self._events.appendleft(event)
        self._unsent.append(event)

    def add_failover(self, attempts: Sequence[Attempt], model: str | None) -> None:
        """Each attempt that failed and was followed by another key's attempt is one failover."""
        for failed, next_attempt in zip(attempts, attempts[1:], strict=False):
            reason = outcome_label(failed.outcome)
            status = f" ({failed.status})" if failed.status is not None else ""
            self._add(Event(failed.ended, "failover", failed.key_name, reason + status, next_attempt.key_name, model))

    def add_transitions(self, events: Iterable[WebhookEvent]) -> None:
        for e in events:
            if e.key is not None:
                self._add(Event(e.at, e.type, e.key, e.reason, until=e.until))

    def newest(self) -> list[Event]:
        return list(self._events)

    def take_unsent(self) -> list[Event]:
        """The events added since the last take, oldest first (LPUSH them in this order)."""
        out = list(self._unsent)
        self._unsent.clear()
        return out

    def give_back(self, events: Sequence[Event]) -> None:
        for event in reversed(events):
            if len(self._unsent) < MAX_UNSENT_EVENTS:
                self._unsent.appendleft(event)

    def unsent(self) -> list[Event]:
        return list(self._unsent)


def encode_event(event: Event) -> str:
    return json.dumps({f.name: getattr(event, f.name) for f in fields(Event)}, separators=(",", ":"))


def decode_event(raw: bytes | str) -> Event | None:
    """An event as stored; None for anything malformed (another version's, or damaged)."""
    try:
        data = json.loads(raw)
        return Event(
            float(data["at"]),
            str(data["kind"]),
            str(data["key"]),
            _opt_str(data.get("reason")),
            _opt_str(data.get("to_key")),
            _opt_str(data.get("model")),
            float(data["until"]) if data.get("until") is not None else None,
        )
    except (ValueError, TypeError, KeyError):
        return None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def transition_marks(event: Event) -> tuple[str, ...]:
    """The names one key change has in every process that sees it (the shared pool changes for
    all of them): the first process to set the first one writes the event, the others do not.
    Its kind, key and deadline (the time seen, when it has none) in DEDUP_BUCKET_SECONDS buckets,
    its neighbours' too (two processes' sightings may straddle a bucket's edge). A failover has
    none: only the process that made it writes it."""
    if event.kind == "failover":
        return ()
    bucket = int((event.until if event.until is not None else event.at) // DEDUP_BUCKET_SECONDS)
    subject = hashlib.sha256(f"{event.kind}\0{event.key}\0{event.reason}".encode()).hexdigest()[:24]
    return tuple(f"{TRANSITION_PREFIX}{subject}:{b}" for b in (bucket, bucket - 1, bucket + 1))


def merge_events(events: Iterable[Event], limit: int = MAX_EVENTS) -> list[Event]:
    """The newest `limit` events, newest first, each transition once: every process watching the
    shared pool sees the same key change (same kind, key and deadline, moments apart); a failover
    is written only by the process that made it, so each one counts."""
    out: list[Event] = []
    for event in sorted(events, key=lambda e: e.at, reverse=True):
        if event.kind != "failover" and any(_same_transition(event, kept) for kept in out):
            continue
        out.append(event)
        if len(out) >= limit:
            break
    return out


def _same_transition(a: Event, b: Event) -> bool:
    return (a.kind, a.key, a.until, a.reason) == (b.kind, b.key, b.until, b.reason) and abs(a.at - b.at) <= SAME_TRANSITION_SECONDS


class LastErrors:
    """Each key's last failed attempt: when, the outcome's name (core/metrics.OUTCOMES) and the
    upstream status. Only names of configured keys are kept (`forget_except` after a reload)."""

    def __init__(self) -> None:
        self._errors: dict[str, LastError] = {}
        self._unsent: dict[str, LastError] = {}

    def note(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            label = outcome_label(attempt.outcome)
            if label != "ok":
                self._errors[attempt.key_name] = self._unsent[attempt.key_name] = (attempt.ended, label, attempt.status)

    def of(self, key: str, shared: Mapping[str, LastError] | None = None) -> dict[str, Any] | None:
        """The key's last error: this process's, or the later one another wrote (`shared`)."""
        error = self._errors.get(key)
        other = shared.get(key) if shared is not None else None
        if other is not None and (error is None or other[0] > error[0]):
            error = other
        return None if error is None else {"at": error[0], "outcome": error[1], "status": error[2]}

    def take_unsent(self) -> dict[str, LastError]:
        out, self._unsent = self._unsent, {}
        return out

    def give_back(self, errors: Mapping[str, LastError]) -> None:
        for name, error in errors.items():
            self._unsent.setdefault(name, error)

    def forget_except(self, names: Iterable[str]) -> None:
        keep = set(names)
        self._errors = {name: error for name, error in self._errors.items() if name in keep}
        self._unsent = {name: error for name, error in self._unsent.items() if name in keep}


def encode_error(error: LastError) -> str:
    return json.dumps(list(error), separators=(",", ":"))


def decode_error(raw: bytes | str | None) -> LastError | None:
    """A last error as stored; None when there is none or it is malformed."""
    if raw is None:
        return None
    try:
        at, outcome, status = json.loads(raw)
        return (float(at), str(outcome), None if status is None else int(status))
    except (ValueError, TypeError):
        return None


def session_member(admin_token: str, session: str) -> str:
    """A session as Redis keeps it: a digest of the session id and the admin token, so Redis
    holds no cookie a reader could present, and a new admin token ends every session at once
    (its digests differ)."""
    return hashlib.sha256(f"{admin_token}\0{session}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SharedHistory:
    """What every router and worker on one Redis wrote, as the data endpoint read it back."""

    minutes: dict[int, Minute] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    errors: dict[str, LastError] = field(default_factory=dict)


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
    keys = []
    if pool is not None:
        by_project = counts if counts is not None else pool.requests_by_project(now)
        for index, view in enumerate(views if views is not None else key_views(pool, now)):
            today, last_minute = by_project.get(pool.group(index), (0, 0))  # a learned group (an organization) too
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
                    "last_error": errors.of(view.key, shared.errors if shared is not None else None),
                }
            )
    minutes = history.series(now) if shared is None else history.unsent_series(now, shared.minutes)
    shown = events.newest() if shared is None else merge_events([*shared.events, *events.unsent()])
    requests = sum(m.requests for m in minutes)
    lookups = sum(m.cache_lookups for m in minutes)
    return {
        "now": now,
        "admin_actions": admin_actions,
        "scope": "all" if shared is not None else "degraded" if redis_down else "router",
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
            for e in shown
        ],
    }
