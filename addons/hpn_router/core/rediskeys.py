"""Where routers sharing a Redis (`state.redis_url`) keep each thing: the key names, their
lifetimes and the pub/sub channel. Every name holds digests or router-chosen ids only: no key
value, key name, client token nor request text ever appears in a Redis key name.

A flash-cache entry and its in-flight leader's lock share a hash tag (`{key}`), so one script
can read the one and take the other in a single round trip, on a Redis Cluster too.
"""

from __future__ import annotations

import hashlib

from hpn_router.core.poolsnapshot import Slot

PREFIX = "hpn:v1:"
CHANNEL = PREFIX + "events"  # pub/sub: one message per pushed delta, or per operator reload
DISABLED_HASH = PREFIX + "disabled"  # key digest -> reason
TOTALS_HASH = PREFIX + "totals"  # requests, saved_pico
EPOCH_KEY = PREFIX + "epoch"  # set once per Redis data set: a new value means Redis lost its data
COOLDOWN_PREFIX = PREFIX + "cd:"
BREAKER_PREFIX = PREFIX + "br:"  # + key digest: an open circuit breaker, expiring at its deadline
SENT_PREFIX = PREFIX + "sent:"  # + group digest + ":d:" day | ":m:" minute: requests sent, all routers
SENT_MINUTE_TTL_MS = 120_000  # a minute's count outlives the minute after it
SENT_DAY_TTL_MS = 25 * 3600 * 1000  # a day's count outlives its Pacific day by an hour (25-hour DST day)
CACHE_PREFIX = PREFIX + "cache:"  # + {cache key}: a finished answer, with the cache's TTL
LEAD_PREFIX = PREFIX + "lead:"  # + {cache key}: the router asking upstream for it right now
RESPONSE_PREFIX = PREFIX + "response:"  # + digest of a Responses id: a stored response
DELETED = b"deleted"  # a stored response's value once a client deleted it (until its TTL ends)
ROUTERS_ZSET = PREFIX + "routers"  # router id -> its last heartbeat (seconds): how many routers are alive
CLIENT_RPM_PREFIX = PREFIX + "rpm:"  # + client name + ":" + minute: a client's requests in one minute, all routers
QUOTA_PREFIX = PREFIX + "q:"  # + slot digest + window: a (project, model) budget's use by every router
WEBHOOK_PREFIX = PREFIX + "wh:"  # + an event's mark (core/webhooks.dedup_marks): this transition was sent
STARTED_PREFIX = PREFIX + "started:"  # + digest of a supervisor's name: its worker 0 restored and shared its state
STARTED_MARK_SECONDS = 86400  # a supervisor's started mark outlives any restart of its workers
ROUTER_ALIVE_SECONDS = 5.0  # a router whose heartbeat (once a second) is older is counted out
WEBHOOK_MARK_SECONDS = 600  # how long a sent transition's mark stays


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def cooldown_key(slot: Slot) -> str:
    """The Redis key of a (project, model) cooldown: a digest, so any project or model name
    makes a well-formed key."""
    return COOLDOWN_PREFIX + _digest(f"{slot[0]}\0{slot[1]}".encode())


def breaker_key(fingerprint: str) -> str:
    """The Redis key of a key's circuit breaker: the key value's digest (as the state file files
    it), never the value nor its name."""
    return BREAKER_PREFIX + fingerprint


def _sent_base(group: str) -> str:
    """The group is digested: its name may hold a key's digest or an organization id."""
    return SENT_PREFIX + _digest(group.encode("utf-8", "surrogatepass"))


def sent_day_key(group: str, day: str) -> str:
    return f"{_sent_base(group)}:d:{day}"


def sent_minute_key(group: str, minute: int) -> str:
    return f"{_sent_base(group)}:m:{minute}"


def sent_keys(group: str, minute: int, day: str) -> tuple[str, str, str]:
    """The Redis counters of a quota group's sends: this Pacific day's, this minute's and the
    previous minute's."""
    return sent_day_key(group, day), sent_minute_key(group, minute), sent_minute_key(group, minute - 1)


def cache_entry_key(key: str) -> str:
    """Where a flash-cache entry lives. Cache keys are already digests (core/cachekey.py), per
    client: no token, no key value and no request text ever appears in a Redis key name."""
    return f"{CACHE_PREFIX}{{{key}}}"


def cache_lead_key(key: str) -> str:
    return f"{LEAD_PREFIX}{{{key}}}"


def response_key(response_id: str) -> str:
    """A stored response's key: a digest, since a client names the id it continues."""
    return RESPONSE_PREFIX + _digest(response_id.encode("utf-8", "surrogatepass"))


def client_rpm_keys(client: str, minute: int) -> list[str]:
    """The Redis counters of a client's sliding minute: this minute's requests, the previous one's."""
    return [f"{CLIENT_RPM_PREFIX}{client}:{minute}", f"{CLIENT_RPM_PREFIX}{client}:{minute - 1}"]


def quota_keys(slot: Slot, minute: int, day: str) -> list[str]:
    """The Redis counters of a (project, model) budget: requests this minute and the previous
    one, requests this Pacific day, input tokens this minute and the previous one."""
    base = QUOTA_PREFIX + _digest(f"{slot[0]}\0{slot[1]}".encode())
    return [f"{base}:r:{minute}", f"{base}:r:{minute - 1}", f"{base}:d:{day}", f"{base}:t:{minute}", f"{base}:t:{minute - 1}"]


def started_key(supervisor: str) -> str:
    """Set by a supervisor's worker 0 once its first merge shared what it restored from the state
    file: the other workers read the shared state only then (names only: host and pid)."""
    return STARTED_PREFIX + _digest(supervisor.encode())
