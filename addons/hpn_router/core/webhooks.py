"""Webhooks, decided without I/O: which key and pool transitions are events, the Standard
Webhooks payload and signature, and the outbox that retries deliveries with backoff. Pure:
every function takes the time.

Events are edges, never levels: a key that takes a storm of 429s is one `key.cooling` (its
state goes active -> cooling once), and one `key.recovered` when its cooldown ends; a model no
key can serve is one `pool.exhausted` until a key can serve it again (`pool.recovered`).

Usage:
    watch = TransitionWatch()
    events = watch.observe(key_views(pool, now), pool_views(pool, now, models), now)
    body = event_body(event)
    headers = signed_headers(signing_key("whsec_..."), msg_id, int(now), body)
    outbox = Outbox(capacity=1000)
    dropped = outbox.add(Delivery(...), now)      # the oldest queued delivery, when full
    for delivery in outbox.take_due(now): ...     # then outbox.failed(delivery, now) on failure
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from hpn_router.config.model import WEBHOOK_EVENTS
from hpn_router.core.keypool import KeyPool
from hpn_router.core.metrics import key_states

KEY_DISABLED = "key.disabled"
KEY_COOLING = "key.cooling"
KEY_RECOVERED = "key.recovered"
POOL_EXHAUSTED = "pool.exhausted"
POOL_RECOVERED = "pool.recovered"
REDIS_DOWN = "state.redis_down"
REDIS_UP = "state.redis_up"
EVENT_TYPES = WEBHOOK_EVENTS  # declared with the config, which checks `webhooks[].events`
assert set(EVENT_TYPES) == {KEY_DISABLED, KEY_COOLING, KEY_RECOVERED, POOL_EXHAUSTED, POOL_RECOVERED, REDIS_DOWN, REDIS_UP}
# Two routers see one transition a little apart (a 1 s timer each; a deadline adopted from the
# other, or learned from their own 429 a moment later): marks this close name the same event.
DEDUP_BUCKET_SECONDS = 10.0

# Seconds to wait before each retry: a receiver that is down for a few minutes still gets the
# event (5 + 10 + 20 + 40 = 75 s covers a one-minute outage), and one down for good is given
# up on after about 20 minutes, with a log line.
RETRY_DELAYS = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0)
_OUT_OF_SERVICE = ("cooling", "parked")  # metrics' states a cooldown puts a key in


@dataclass(frozen=True, slots=True)
class KeyView:
    """A key as webhooks see it: names only, never the key's value."""

    provider: str
    key: str
    project: str
    state: str  # core/metrics.KEY_STATES
    reason: str | None
    until: float | None


@dataclass(frozen=True, slots=True)
class PoolView:
    """Whether any key can serve `model` now."""

    exhausted: bool
    reason: str | None = None
    until: float | None = None
    provider: str = "gemini"  # whose keys were asked


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    type: str
    at: float  # when the transition was seen
    provider: str
    key: str | None = None
    project: str | None = None
    model: str | None = None
    reason: str | None = None
    until: float | None = None


def key_views(pool: KeyPool, now: float) -> list[KeyView]:
    """Every key's state now (as the metrics read it), with why and until when."""
    views = []
    for index, status in enumerate(key_states(pool, now)):
        reason: str | None = None
        until: float | None = None
        if status.state == "disabled":
            reason = pool.disabled_reason(index)
        elif status.state in _OUT_OF_SERVICE:
            cooldown, breaker = pool.cooldown_of(index, now), pool.breaker_of(index, now)
            reason = cooldown.reason if cooldown is not None else (breaker.reason if breaker is not None else None)
            until = now + status.cooldown_seconds
        views.append(KeyView(status.provider, status.key, status.project, status.state, reason, until))
    return views


def pool_views(pool: KeyPool, now: float, models: Iterable[tuple[str, str]]) -> dict[str, PoolView]:
    """For each (provider, model): can some key of that provider serve it now; when not, why
    and when one may again. Another provider's keys do not count: a fallback may serve the
    request, but this model's pool is still exhausted."""
    views = {}
    for provider, model in models:
        if pool.has_active(now, model, provider):
            views[model] = PoolView(False, provider=provider)
            continue
        exhaustion = pool.exhaustion(now, model, provider)
        if exhaustion.all_disabled:
            reason = "every key is disabled"
        elif exhaustion.daily_only:
            reason = "every key's project spent its daily quota"
        else:
            reason = "every key is cooling down"
        views[model] = PoolView(True, reason, exhaustion.earliest_recovery, provider)
    return views


class TransitionWatch:
    """Remembers what it saw last and names what changed. The first look at a key is its
    baseline (a restart must not announce every cooling key again); a model is assumed
    servable until seen otherwise."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], KeyView] = {}
        self._exhausted: dict[str, bool] = {}

    def observe(self, keys: Sequence[KeyView], pools: Mapping[str, PoolView], now: float) -> list[WebhookEvent]:
        events = [e for view in keys if (e := self._key_event(view, now)) is not None]
        self._keys = {(v.provider, v.key): v for v in keys}  # keys gone with a reload are forgotten
        for model, view in pools.items():
            if view.exhausted != self._exhausted.get(model, False):
                kind = POOL_EXHAUSTED if view.exhausted else POOL_RECOVERED
                events.append(WebhookEvent(kind, now, view.provider, model=model, reason=view.reason, until=view.until))
            self._exhausted[model] = view.exhausted
        return events

    def _key_event(self, view: KeyView, now: float) -> WebhookEvent | None:
        before = self._keys.get((view.provider, view.key))
        if before is None or before.state == view.state:
            return None  # a baseline, or the same state (a longer cooldown is the same cooldown)
        if view.state == "disabled":
            kind = KEY_DISABLED
        elif view.state == "active":
            kind = KEY_RECOVERED
        else:
            kind = KEY_COOLING  # active -> cooling, cooling -> parked (a daily quota), disabled -> cooling
        return WebhookEvent(kind, now, view.provider, view.key, view.project, None, view.reason, view.until)


class RedisWatch:
    """`state.redis_down` when a router that reached Redis loses it, `state.redis_up` when it
    is back. A router starting while Redis is down announces the outage (its state says "down"
    before its first sync); one connecting at start-up says nothing."""

    def __init__(self) -> None:
        self._last: str | None = None
        self._announced_down = False

    def observe(self, redis: str | None, now: float) -> list[WebhookEvent]:
        before, self._last = self._last, redis
        if redis == "down" and before == "up":
            self._announced_down = True
            return [WebhookEvent(REDIS_DOWN, now, "", reason="Redis unreachable; serving from this router's own state")]
        if redis == "up" and self._announced_down:
            self._announced_down = False
            return [WebhookEvent(REDIS_UP, now, "", reason="Redis reachable; state shared again")]
        return []


def dedup_marks(event: WebhookEvent) -> tuple[str, str, str]:
    """The names one transition has on every router, for de-duplication through Redis: its type
    and subject with its deadline (its time seen, when it has none) in DEDUP_BUCKET_SECONDS
    buckets; the bucket's own name first, then its neighbours' (two routers' marks a few
    seconds apart may straddle a bucket's edge). Names only: the key's name, never its value."""
    mark = event.until if event.until is not None else event.at
    bucket = int(mark // DEDUP_BUCKET_SECONDS)
    subject = hashlib.sha256(f"{event.type}\0{event.provider}\0{event.key}\0{event.project}\0{event.model}".encode()).hexdigest()[:24]
    return (f"{subject}:{bucket}", f"{subject}:{bucket - 1}", f"{subject}:{bucket + 1}")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def event_body(event: WebhookEvent) -> bytes:
    """The Standard Webhooks payload: {"type", "timestamp", "data"}; names only."""
    data: dict[str, Any] = {
        "provider": event.provider or None,  # state.redis_* events concern no provider
        "key": event.key,
        "project": event.project,
        "model": event.model,
        "reason": event.reason,
        "until": None if event.until is None else _iso(event.until),
    }
    return json.dumps({"type": event.type, "timestamp": _iso(event.at), "data": data}, separators=(",", ":")).encode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: the base64-decoded rest of a `whsec_` secret (what Standard
    Webhooks libraries generate and read), else the secret's UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after its prefix") from None
    return secret.encode()


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (Standard Webhooks 1.0)."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }


def own_port_refusal(url: str, own_ports: frozenset[int], own_hosts: frozenset[str] = frozenset()) -> str | None:
    """Why the router must not post to `url`, or None: only http(s), and never to one of the
    router's own listeners (it would answer its own webhooks, or loop on them)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    try:
        ip = ipaddress.ip_address(host)
        ours = ip.is_loopback or ip.is_unspecified or str(ip) in own_hosts
    except ValueError:
        ours = host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost")
    if ours and port in own_ports:
        return "is the router itself (one of its own ports)"
    return None


def safe_url(url: str) -> str:
    """The URL as logs show it: no credentials, query or fragment (they may carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one endpoint; its id stays the same across retries (receivers use it to
    drop duplicates)."""

    msg_id: str
    type: str
    url: str
    key: bytes = field(repr=False)
    body: bytes
    attempts: int = 0  # failed so far
    due: float = 0.0


class Outbox:
    """Deliveries waiting to be sent, bounded: when full, the oldest waiting one is dropped
    (and returned, so the caller logs it), since newer state is the one that matters."""

    def __init__(self, capacity: int = 1000, delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.capacity = capacity
        self.delays = tuple(delays)
        self._waiting: list[Delivery] = []

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, delivery: Delivery, now: float) -> Delivery | None:
        dropped = self._waiting.pop(0) if len(self._waiting) >= self.capacity else None
        self._waiting.append(replace(delivery, due=now))
        return dropped

    def take_due(self, now: float, limit: int = 16) -> list[Delivery]:
        """Up to `limit` deliveries due by `now`, the earliest first, taken out of the box."""
        due = sorted((d for d in self._waiting if d.due <= now), key=lambda d: d.due)[:limit]
        taken = {id(d) for d in due}
        self._waiting = [d for d in self._waiting if id(d) not in taken]
        return due

    def next_due(self) -> float | None:
        return min((d.due for d in self._waiting), default=None)

    def failed(self, delivery: Delivery, now: float) -> float | None:
        """Puts a failed delivery back for its next try and returns the delay; None when it has
        had all its retries or the box is full (the caller logs that it is given up)."""
        if delivery.attempts >= len(self.delays) or len(self._waiting) >= self.capacity:
            return None
        delay = self.delays[delivery.attempts]
        self._waiting.append(replace(delivery, attempts=delivery.attempts + 1, due=now + delay))
        return delay
