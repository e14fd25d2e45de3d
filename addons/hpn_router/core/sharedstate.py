"""Shared pool state (Redis), the pure part: what one router writes, what it takes from the
others, and how totals counted on several routers add up. The Redis I/O is edge/sharedstate.py.

The in-memory pool (core/keypool.py) stays the only thing a request reads: no Redis round trip
stands before an upstream call. Routers exchange *changes* of the pool's saved state
(KeyPool.snapshot, parsed into SavedState: keys by the digest of their value, projects by name
or, for a key without one, by that digest too):

- `delta(before, after, now)`: what changed between two states. A cooldown that disappeared
  before its deadline was lifted (an operator re-enabled the key); one that ran out is no news.
- Routers agree on a *baseline*: the state last pushed to or taken from Redis. A router pushes
  `delta(baseline, local)`, and takes `delta(baseline, remote)` from Redis, so a change is never
  undone by a router that simply has not seen it yet.
- After an outage (or when Redis lost its data) nobody knows what the others missed, so both
  sides merge by union (`union`): a cooldown keeps the later deadline, a disable wins. An
  operator's re-enable made during the outage is then lost; re-enable again.

Config reloads reach every router: a router reloaded by an operator (`/admin/reload`, SIGHUP)
publishes a `ReloadNotice` on the same channel; each other router reloads its own config file
once per notice and never announces that reload in turn, so notices cannot loop or multiply.

A key's circuit breaker (it did not answer: core/keypool.py rule 5) travels the same way as a
cooldown, by the key's digest: every router passes over the key until the deadline, and an
answer from the key on any router closes it everywhere (`closed`, like a lifted cooldown).

Requests sent upstream are counted per quota group for the admin API: each router tallies its
sends (`SendTally`) and adds them to Redis counters (per Pacific day, per minute, digests of the
group's name in the key names) with its next push; the admin API reads them back in one round
trip and adds what this router has not pushed yet.

Totals (requests answered, USD saved) are counters each router increments by what it counted
since its last push (`rebase`), so /health shows the same sum on every router.

The flash cache, its in-flight leaders and stored Responses are shared too, under the names
below: a cache entry and its leader's lock share a hash tag (`{key}`), so one script can read
the one and take the other in a single round trip, on a Redis Cluster too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from hpn_router.core.access import minute_bucket, shared_estimate
from hpn_router.core.classify import next_pacific_midnight
from hpn_router.core.poolsnapshot import SavedState, Slot
from hpn_router.core.quota import pacific_day

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
PICO = Decimal("1e12")  # saved USD is kept in Redis as an integer of 10^-12 USD (HINCRBY is exact)

N = TypeVar("N", int, Decimal)
Cooldown = tuple[float, bool, str]  # (until, daily, reason), as SavedState holds it
Tripped = tuple[int, float, str]  # (failures in a row, until, reason): an open circuit breaker


@dataclass(frozen=True, slots=True)
class PoolDelta:
    disabled: dict[str, str] = field(default_factory=dict)  # key digest -> reason (new or changed)
    enabled: frozenset[str] = frozenset()  # key digests no longer disabled
    cooled: dict[Slot, Cooldown] = field(default_factory=dict)  # new or later deadlines
    lifted: frozenset[Slot] = frozenset()  # cooldowns ended before their deadline
    tripped: dict[str, Tripped] = field(default_factory=dict)  # key digest -> a new or later breaker
    closed: frozenset[str] = frozenset()  # key digests whose breaker closed before its deadline (it answered)

    def __bool__(self) -> bool:
        return bool(self.disabled or self.enabled or self.cooled or self.lifted or self.tripped or self.closed)


EMPTY = SavedState({}, {}, {})


def cooldown_key(slot: Slot) -> str:
    """The Redis key of a (project, model) cooldown: a digest, so any project or model name
    makes a well-formed key."""
    return COOLDOWN_PREFIX + hashlib.sha256(f"{slot[0]}\0{slot[1]}".encode()).hexdigest()[:32]


def breaker_key(fingerprint: str) -> str:
    """The Redis key of a key's circuit breaker: the key value's digest (as the state file files
    it), never the value nor its name."""
    return BREAKER_PREFIX + fingerprint


def _sent_base(group: str) -> str:
    """The group is digested: its name may hold a key's digest or an organization id."""
    return SENT_PREFIX + hashlib.sha256(group.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
    return RESPONSE_PREFIX + hashlib.sha256(response_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_rpm_keys(client: str, minute: int) -> list[str]:
    """The Redis counters of a client's sliding minute: this minute's requests, the previous one's."""
    return [f"{CLIENT_RPM_PREFIX}{client}:{minute}", f"{CLIENT_RPM_PREFIX}{client}:{minute - 1}"]


def quota_keys(slot: Slot, minute: int, day: str) -> list[str]:
    """The Redis counters of a (project, model) budget: requests this minute and the previous
    one, requests this Pacific day, input tokens this minute and the previous one."""
    base = QUOTA_PREFIX + hashlib.sha256(f"{slot[0]}\0{slot[1]}".encode()).hexdigest()[:32]
    return [f"{base}:r:{minute}", f"{base}:r:{minute - 1}", f"{base}:d:{day}", f"{base}:t:{minute}", f"{base}:t:{minute - 1}"]


def live(state: SavedState, now: float) -> SavedState:
    """The state without its expired cooldowns and breakers (and without day counts: sends are
    counted apart, SendTally)."""
    return SavedState(
        dict(state.disabled),
        {s: c for s, c in state.cooldowns.items() if c[0] > now},
        {},
        {k: b for k, b in state.breakers.items() if b[1] > now},
    )


def delta(before: SavedState, after: SavedState, now: float) -> PoolDelta:
    before, after = live(before, now), live(after, now)
    return PoolDelta(
        disabled={k: r for k, r in after.disabled.items() if before.disabled.get(k) != r},
        enabled=frozenset(before.disabled.keys() - after.disabled.keys()),
        cooled={s: c for s, c in after.cooldowns.items() if s not in before.cooldowns or c[0] > before.cooldowns[s][0]},
        lifted=frozenset(before.cooldowns.keys() - after.cooldowns.keys()),
        tripped={k: b for k, b in after.breakers.items() if k not in before.breakers or b[1] > before.breakers[k][1]},
        closed=frozenset(before.breakers.keys() - after.breakers.keys()),
    )


def apply(state: SavedState, change: PoolDelta, now: float) -> SavedState:
    """`state` with `change` applied (what a router's baseline becomes once it agrees)."""
    state = live(state, now)
    disabled = {k: r for k, r in state.disabled.items() if k not in change.enabled} | change.disabled
    cooldowns = {s: c for s, c in state.cooldowns.items() if s not in change.lifted}
    for slot, cooldown in change.cooled.items():
        if slot not in cooldowns or cooldown[0] > cooldowns[slot][0]:
            cooldowns[slot] = cooldown
    breakers = {k: b for k, b in state.breakers.items() if k not in change.closed}
    for fingerprint, breaker in change.tripped.items():
        if fingerprint not in breakers or breaker[1] > breakers[fingerprint][1]:
            breakers[fingerprint] = breaker
    return live(SavedState(disabled, cooldowns, {}, breakers), now)


def restrict(state: SavedState, fingerprints: frozenset[str], projects: frozenset[str]) -> SavedState:
    """Only what concerns these keys and projects: a router never speaks for a key it does not
    have (a key removed from its config, or disabled there, is not "re-enabled" by it)."""
    return SavedState(
        {k: r for k, r in state.disabled.items() if k in fingerprints},
        {s: c for s, c in state.cooldowns.items() if s[0] in projects},
        {},
        {k: b for k, b in state.breakers.items() if k in fingerprints},
    )


def union(a: SavedState, b: SavedState, now: float) -> SavedState:
    """Both states at once: every disable (a's reason first), every cooldown and breaker at its
    later deadline."""
    a = live(a, now)
    merged = apply(b, PoolDelta(cooled=dict(a.cooldowns), tripped=dict(a.breakers)), now)
    return SavedState(b.disabled | a.disabled, merged.cooldowns, {}, merged.breakers)


# -- wire format: pub/sub messages and cooldown values -----------------------------------------


def encode_cooldown(slot: Slot, cooldown: Cooldown) -> str:
    until, daily, reason = cooldown
    return json.dumps({"project": slot[0], "model": slot[1], "until": until, "daily": daily, "reason": reason})


def decode_cooldown(text: str | bytes) -> tuple[Slot, Cooldown] | None:
    """A cooldown value read from Redis; None for anything else (another program's key)."""
    try:
        data = json.loads(text)
        slot = (data["project"], data["model"])
        cooldown = (float(data["until"]), data["daily"], data["reason"])
    except (ValueError, TypeError, KeyError):
        return None
    if not all(isinstance(x, str) for x in (*slot, cooldown[2])) or not isinstance(cooldown[1], bool) or not math.isfinite(cooldown[0]):
        return None
    return slot, cooldown


def encode_breaker(fingerprint: str, breaker: Tripped) -> str:
    failures, until, reason = breaker
    return json.dumps({"key": fingerprint, "failures": failures, "until": until, "reason": reason})


def decode_breaker(text: str | bytes) -> tuple[str, Tripped] | None:
    """A breaker value read from Redis; None for anything else."""
    try:
        data = json.loads(text)
        fingerprint, failures, until, reason = data["key"], data["failures"], float(data["until"]), data["reason"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(fingerprint, str) and isinstance(reason, str) and math.isfinite(until)):
        return None
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
        return None
    return fingerprint, (failures, until, reason)


def encode_delta(change: PoolDelta, sender: str) -> str:
    return json.dumps(
        {
            "sender": sender,
            "disabled": change.disabled,
            "enabled": sorted(change.enabled),
            "cooled": [json.loads(encode_cooldown(s, c)) for s, c in change.cooled.items()],
            "lifted": [list(s) for s in sorted(change.lifted)],
            "tripped": [json.loads(encode_breaker(k, b)) for k, b in change.tripped.items()],
            "closed": sorted(change.closed),
        }
    )


def decode_delta(text: str | bytes) -> tuple[str, PoolDelta] | None:
    """(sender, delta) of a pub/sub message; None when it is not one this version writes."""
    try:
        data: Any = json.loads(text)
        disabled = {str(k): str(v) for k, v in data["disabled"].items()}
        enabled = frozenset(str(k) for k in data["enabled"])
        cooled = dict(c for c in (decode_cooldown(json.dumps(item)) for item in data["cooled"]) if c is not None)
        lifted = frozenset((str(p), str(m)) for p, m in data["lifted"])
        # Absent from the messages of routers that kept breakers to themselves.
        tripped = dict(b for b in (decode_breaker(json.dumps(item)) for item in data.get("tripped", [])) if b is not None)
        closed = frozenset(str(k) for k in data.get("closed", []))
        sender = str(data["sender"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return sender, PoolDelta(disabled, enabled, cooled, lifted, tripped, closed)


# -- config reloads ---------------------------------------------------------------------------

RELOAD_KIND = "reload"  # a message's `kind`; deltas have none (routers before reloads were shared skip it)
ANNOUNCED_TRIGGERS = ("admin_api", "sighup")  # operator reloads; a `peer` reload is never announced again
SEEN_NOTICES = 256  # notice ids remembered, so a notice delivered twice reloads once


@dataclass(frozen=True, slots=True)
class ReloadNotice:
    sender: str  # the publishing connection's id (RedisStore.sender): a router skips its own
    origin: str  # the reloaded router, named for the others' logs (`router_name`)
    notice: str  # unique per reload: each router reloads once per notice
    siblings: str | None = None  # workers of one supervisor that all got the SIGHUP themselves


def router_name(host: str, pid: int, worker: int | None) -> str:
    """How a router is named in the other routers' reload lines: its host, process and worker."""
    return f"{host} pid {pid}" + ("" if worker is None else f" worker {worker}")


def announces(trigger: str, worker: int | None) -> bool:
    """Whether a reload is told to the other routers. A supervisor hands SIGHUP to each of its
    workers: worker 0 alone tells the routers elsewhere, once for them all."""
    if trigger not in ANNOUNCED_TRIGGERS:
        return False
    return not (trigger == "sighup" and worker not in (None, 0))


def siblings_of(trigger: str, worker: int | None, supervisor: str) -> str | None:
    """The supervisor whose workers already reload on this SIGHUP (they skip its notice); None
    when every router but the origin should reload."""
    return supervisor if trigger == "sighup" and worker is not None else None


def encode_reload(notice: ReloadNotice) -> str:
    return json.dumps(
        {"kind": RELOAD_KIND, "sender": notice.sender, "origin": notice.origin, "notice": notice.notice, "siblings": notice.siblings}
    )


def decode_reload(text: str | bytes) -> ReloadNotice | None:
    """A reload notice; None for anything else (a delta, another version's message)."""
    try:
        data: Any = json.loads(text)
        if data.get("kind") != RELOAD_KIND:
            return None
        siblings = data.get("siblings")
        fields = (data["sender"], data["origin"], data["notice"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not all(isinstance(x, str) for x in fields) or not (siblings is None or isinstance(siblings, str)):
        return None
    return ReloadNotice(*fields, siblings=siblings)


class NoticeFilter:
    """Which notices this router follows: not its own, not one its supervisor already handed it
    as a SIGHUP, and each notice once (bounded memory of the ids seen)."""

    def __init__(self, supervisor: str | None, size: int = SEEN_NOTICES) -> None:
        self.supervisor = supervisor
        self._seen: deque[str] = deque(maxlen=size)

    def follows(self, notice: ReloadNotice, own_sender: str) -> bool:
        if notice.sender == own_sender or notice.notice in self._seen:
            return False
        self._seen.append(notice.notice)
        return notice.siblings is None or notice.siblings != self.supervisor


def started_key(supervisor: str) -> str:
    """Set by a supervisor's worker 0 once its first merge shared what it restored from the state
    file: the other workers read the shared state only then (names only: host and pid)."""
    return STARTED_PREFIX + hashlib.sha256(supervisor.encode()).hexdigest()[:32]


# -- totals ---------------------------------------------------------------------------------

TOTALS_KIND = "totals"  # a message asking every router to push its totals now, or saying it did


@dataclass(frozen=True, slots=True)
class TotalsNotice:
    """A router about to show totals (/health) asks the others to push what they counted since
    their last push (`pushed` False); each answers once it did (`pushed` True), naming the ask."""

    sender: str
    ask: str
    pushed: bool = False


def encode_totals(notice: TotalsNotice) -> str:
    return json.dumps({"kind": TOTALS_KIND, "sender": notice.sender, "ask": notice.ask, "pushed": notice.pushed})


def decode_totals(text: str | bytes) -> TotalsNotice | None:
    """A totals ask or answer; None for anything else."""
    try:
        data: Any = json.loads(text)
        if data.get("kind") != TOTALS_KIND:
            return None
        sender, ask, pushed = data["sender"], data["ask"], data["pushed"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not (isinstance(sender, str) and isinstance(ask, str) and isinstance(pushed, bool)):
        return None
    return TotalsNotice(sender, ask, pushed)


def saved_to_pico(amount: Decimal) -> int:
    """Whole pico-USD of `amount` (rounded down: the rest stays pending for the next push)."""
    return int((amount * PICO).to_integral_value(rounding="ROUND_FLOOR"))


def pico_to_saved(pico: int) -> Decimal:
    return Decimal(pico) / PICO


def rebase(local_now: N, synced: N, pushed: N, shared: N) -> N:
    """The local total once Redis answered `shared` after adding `pushed`: the shared sum plus
    what was counted here meanwhile and not pushed yet (`local_now - synced - pushed`)."""
    return shared + (local_now - synced - pushed)


# -- requests sent, per quota group -----------------------------------------------------------


class SendTally:
    """Requests this router sent upstream and has not added to the shared counters yet, per
    quota group, for this Pacific day and by minute. Bounded without Redis too: a minute older
    than the previous one and a past day are dropped as time moves on."""

    def __init__(self) -> None:
        self.day = ""
        self.day_ends = -math.inf  # the next Pacific midnight: no time-zone maths per send
        self.minute = 0  # the minute of the latest send: older minutes are pruned when it moves
        self.by_day: dict[str, int] = {}  # group -> sends this day
        self.by_minute: dict[tuple[str, int], int] = {}  # (group, minute) -> sends

    def __bool__(self) -> bool:
        return bool(self.by_day)

    def add(self, group: str, now: float, count: int = 1) -> None:
        minute = self._roll(now)
        self.by_day[group] = self.by_day.get(group, 0) + count
        self.by_minute[(group, minute)] = self.by_minute.get((group, minute), 0) + count

    def take(self) -> SendTally:
        """Everything tallied so far, handed to a push; this tally starts again from zero."""
        taken = SendTally()
        taken.day, taken.day_ends, taken.minute = self.day, self.day_ends, self.minute
        taken.by_day, taken.by_minute = self.by_day, self.by_minute
        self.by_day, self.by_minute = {}, {}
        return taken

    def put_back(self, taken: SendTally, now: float) -> None:
        """A push that failed: its sends wait for the next one (what is too old by now drops)."""
        self._roll(now)
        if taken.day == self.day:
            for group, count in taken.by_day.items():
                self.by_day[group] = self.by_day.get(group, 0) + count
        minute = minute_bucket(now)[0]
        for key, count in taken.by_minute.items():
            if key[1] >= minute - 1:
                self.by_minute[key] = self.by_minute.get(key, 0) + count

    def increments(self) -> dict[str, tuple[int, int]]:
        """Redis key -> (increment, lifetime in ms) of every count tallied."""
        result: dict[str, tuple[int, int]] = {}
        for group, count in self.by_day.items():
            result[sent_day_key(group, self.day)] = (count, SENT_DAY_TTL_MS)
        for (group, minute), count in self.by_minute.items():
            result[sent_minute_key(group, minute)] = (count, SENT_MINUTE_TTL_MS)
        return result

    def counts(self, group: str, now: float) -> tuple[int, int, int]:
        """(this day's, this minute's, the previous minute's) sends of `group` tallied here."""
        minute = self._roll(now)
        return self.by_day.get(group, 0), self.by_minute.get((group, minute), 0), self.by_minute.get((group, minute - 1), 0)

    def _roll(self, now: float) -> int:
        """Drop a past day's and older minutes' counts; returns `now`'s minute."""
        if now >= self.day_ends or now < self.day_ends - 25 * 3600:  # a new day (or a clock set back)
            today = pacific_day(now)
            if today != self.day:
                self.day, self.by_day = today, {}
            self.day_ends = next_pacific_midnight(now)
        minute = minute_bucket(now)[0]
        if minute > self.minute:  # (a send stamped a little earlier, by a slower request, drops nothing)
            self.minute = minute
            self.by_minute = {k: c for k, c in self.by_minute.items() if k[1] >= minute - 1}
        return minute


def sent_counts(shared: tuple[int, int, int], local: tuple[int, int, int], now: float) -> tuple[int, int]:
    """A group's (requests today, requests in the last minute) on every router: what Redis
    counted (day, this minute, the previous one) plus what this router has not pushed yet; the
    last minute is the sliding estimate the shared budgets use (core/access.shared_estimate)."""
    day, current, previous = (a + b for a, b in zip(shared, local, strict=True))
    return day, shared_estimate(current, previous, minute_bucket(now)[1])
