"""The dashboard's recent events, decided without I/O: failovers (a request that tried another
key) and key transitions (cooling, disabled, recovered), newest first and bounded; how they are
stored in Redis, and how every process's copies merge into one list. Keys appear by name only.

Usage:
    events = RecentEvents()
    events.add_failover(attempts, model)
    events.add_transitions(watch.observe(key_views(pool, now), {}, now))
    events.newest()                                       # this process's, newest first
    # With Redis: each process pushes what it has not sent yet (encode_event, once per key change
    # thanks to transition_marks; give_back when the write failed); the list shown is
    # merge_events(what every process pushed (decode_event) + this one's unsent part).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from hpn_router.core.attempts import Attempt
from hpn_router.core.metrics import outcome_label
from hpn_router.core.sharedstate import PREFIX
from hpn_router.core.webhooks import DEDUP_BUCKET_SECONDS, WebhookEvent

MAX_EVENTS = 50
MAX_UNSENT_EVENTS = MAX_EVENTS  # events kept for the next write while Redis is down

# In Redis, shared by every router and worker on it: key names, never key values.
EVENTS_LIST = PREFIX + "dash:events"  # newest first (LPUSH), trimmed to SHARED_EVENTS
SHARED_EVENTS = MAX_EVENTS  # each key change is pushed once (transition_marks), so no room for copies is needed
TRANSITION_PREFIX = PREFIX + "dash:t:"  # + transition_marks: this key change is in the list already
TRANSITION_MARK_SECONDS = 600  # how long such a mark stays
SAME_TRANSITION_SECONDS = 10.0  # one transition seen by several processes: their copies this close are one


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
