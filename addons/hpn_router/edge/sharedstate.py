"""Shared pool state, the Redis I/O: writes a pool delta and the totals in one transaction,
reads everything back, checks budgets and clients' rates for every router (core/sharedstate.py
decides what to write and how to merge; this module only talks to Redis). Its scripts are
edge/redisscripts.py's, the pub/sub channel edge/sharedchannel.py's (`RedisStore.channel`), the
flash cache's and stored Responses' commands edge/sharedcache.py's.

Every command has short socket timeouts and no retries of its own: a Redis that is down or slow
costs the background sync one failed call, never a request (requests read the in-memory pool).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from hpn_router.core.access import ClientCount, ClientWindow
from hpn_router.core.dashboard import SharedHistory
from hpn_router.core.dashboarderrors import ERRORS_HASH, LastError, decode_error, encode_error
from hpn_router.core.dashboardevents import (
    EVENTS_LIST,
    SHARED_EVENTS,
    TRANSITION_MARK_SECONDS,
    Event,
    decode_event,
    encode_event,
    transition_marks,
)
from hpn_router.core.dashboardhistory import (
    MINUTE_FIELDS,
    MINUTE_TTL_SECONDS,
    MINUTES,
    Minute,
    minute_fields,
    minute_from_fields,
    minute_key,
)
from hpn_router.core.dashboardlogin import SESSIONS_ZSET
from hpn_router.core.poolsnapshot import SavedState, Slot
from hpn_router.core.rediskeys import (
    BREAKER_PREFIX,
    CHANNEL,
    COOLDOWN_PREFIX,
    DISABLED_HASH,
    EPOCH_KEY,
    ROUTER_ALIVE_SECONDS,
    ROUTERS_ZSET,
    STARTED_MARK_SECONDS,
    TOTALS_HASH,
    WEBHOOK_MARK_SECONDS,
    WEBHOOK_PREFIX,
    breaker_key,
    client_rpm_keys,
    cooldown_key,
    sent_keys,
    started_key,
)
from hpn_router.core.sendtally import SendTally
from hpn_router.core.sharedstate import PoolDelta, decode_breaker, decode_cooldown, encode_breaker, encode_cooldown, encode_delta
from hpn_router.core.sharedtotals import pico_to_saved
from hpn_router.edge.redisscripts import (
    CLAIM_SCRIPT,
    CLIENT_RPM_SCRIPT,
    COOL_SCRIPT,
    DASHBOARD_EVENTS_SCRIPT,
    DASHBOARD_READ_SCRIPT,
    FINISH_SCRIPT,
    LOOKUP_SCRIPT,
    QUOTA_SCRIPT,
    RAISE_TOTALS_SCRIPT,
    RENEW_SCRIPT,
    ScriptedPipeline,
    client_check_args,
)
from hpn_router.edge.sharedcache import CacheCommands
from hpn_router.edge.sharedchannel import SharedChannel

SOCKET_TIMEOUT_SECONDS = 0.5  # a Redis slower than this is treated as down (requests never wait on it)
MAX_CONNECTIONS = 8  # the background sync and the listener: a few connections are plenty


StoreError = (RedisError, OSError, asyncio.TimeoutError)  # what a down or slow Redis raises


class RedisStore(CacheCommands):
    def __init__(self, url: str) -> None:
        self.sender = secrets.token_hex(8)  # this router, so it can skip its own messages
        self._redis: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            max_connections=MAX_CONNECTIONS,
            # One immediate retry: a pooled connection that Redis closed (it restarted) reconnects
            # instead of failing; anything longer waits for the next sync, a second later.
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
        )
        self.channel = SharedChannel(self._redis, self.sender)  # listening and notices; deltas go with push
        self._cool = self._redis.register_script(COOL_SCRIPT)
        self._raise_totals = self._redis.register_script(RAISE_TOTALS_SCRIPT)
        self._lookup = self._redis.register_script(LOOKUP_SCRIPT)
        self._finish = self._redis.register_script(FINISH_SCRIPT)
        self._renew = self._redis.register_script(RENEW_SCRIPT)
        self._client_rpm = self._redis.register_script(CLIENT_RPM_SCRIPT)
        self._claim = self._redis.register_script(CLAIM_SCRIPT)
        self._quota = self._redis.register_script(QUOTA_SCRIPT)
        self._dashboard_events = self._redis.register_script(DASHBOARD_EVENTS_SCRIPT)
        self._dashboard_read = self._redis.register_script(DASHBOARD_READ_SCRIPT)

    async def close(self) -> None:
        await self._redis.aclose()

    async def epoch(self) -> str:
        """The data set's identity: set once (NX) by the first router; another value later means
        Redis restarted without its data."""
        value = await self._redis.get(EPOCH_KEY)  # one round trip once the data set has one
        if value is None:
            await self._redis.set(EPOCH_KEY, secrets.token_hex(8), nx=True)
            value = await self._redis.get(EPOCH_KEY)
        return _text(value)

    async def push(self, change: PoolDelta, requests: int, saved_pico: int, sent: SendTally | None = None) -> tuple[int, Decimal]:
        """One MULTI/EXEC: the delta, the sends' and totals' increments and the message to the
        other routers. Returns the shared totals after the increments."""
        pipe = ScriptedPipeline(self._redis.pipeline(transaction=True))
        for slot, cooldown in change.cooled.items():
            pipe.script(self._cool, [cooldown_key(slot)], [int(cooldown[0] * 1000), encode_cooldown(slot, cooldown)])
        for slot in change.lifted:
            pipe.commands.delete(cooldown_key(slot))
        for fingerprint, breaker in change.tripped.items():
            value = encode_breaker(fingerprint, breaker)
            pipe.script(self._cool, [breaker_key(fingerprint)], [int(breaker[1] * 1000), value])
        if change.closed:
            pipe.commands.delete(*(breaker_key(k) for k in change.closed))
        for name, (count, ttl_ms) in (sent.increments() if sent else {}).items():
            pipe.commands.incrby(name, count)
            pipe.commands.pexpire(name, ttl_ms)
        if change.disabled:
            pipe.commands.hset(DISABLED_HASH, mapping=change.disabled)
        if change.enabled:
            pipe.commands.hdel(DISABLED_HASH, *change.enabled)
        pipe.commands.hincrby(TOTALS_HASH, "requests", requests)
        pipe.commands.hincrby(TOTALS_HASH, "saved_pico", saved_pico)
        if change:
            pipe.commands.publish(CHANNEL, encode_delta(change, self.sender))
        results = await pipe.execute()
        offset = len(results) - (3 if change else 2)
        return int(results[offset]), pico_to_saved(int(results[offset + 1]))

    async def raise_totals(self, requests: int, saved_pico: int) -> tuple[int, Decimal]:
        """The shared totals, each first raised to at least the given value (one EVALSHA)."""
        shared_requests, shared_pico = await self._raise_totals(keys=[TOTALS_HASH], args=[requests, saved_pico])
        return int(shared_requests), pico_to_saved(int(shared_pico))

    async def admit_client(self, client: ClientWindow) -> ClientCount:
        """(admitted, this minute's count, the previous minute's) of a client across every
        router; one EVALSHA (when no other round trip before the upstream call carried it)."""
        admitted, current, previous = await self._client_rpm(
            keys=client_rpm_keys(client.client, client.minute), args=client_check_args(client)
        )
        return bool(admitted), int(current), int(previous)

    async def admit_quota(
        self,
        keys: list[str],
        limits: tuple[int, int, int],
        elapsed: float,
        tokens: int,
        day_seconds: float,
        client: ClientWindow | None = None,
    ) -> tuple[bool, int, int, int, ClientCount | None]:
        """(admitted, minute requests, day requests, minute tokens, the client's check) of one
        budget across every router, counted before this request; one EVALSHA. `limits`: rpm,
        rpd, tpm (0: none). With `client`, the same round trip checks it first: refused, the
        budget is not counted (and reads as not admitted)."""
        args: list[Any] = [*limits, 1.0 - elapsed, tokens, int(day_seconds * 1000)]
        if client is not None:
            keys, args = keys + client_rpm_keys(client.client, client.minute), args + client_check_args(client)
        admitted, minute, day, minute_tokens, client_ok, current, previous = await self._quota(keys=keys, args=args)
        checked = (bool(client_ok), int(current), int(previous)) if client is not None else None
        return bool(admitted), int(minute), int(day), int(minute_tokens), checked

    async def claim_event(self, marks: tuple[str, ...]) -> bool:
        """Whether this router is the first to announce the transition these marks name."""
        return bool(await self._claim(keys=[WEBHOOK_PREFIX + m for m in marks], args=[WEBHOOK_MARK_SECONDS]))

    async def heartbeat(self, now: float) -> int:
        """This router is alive; returns how many are (one MULTI/EXEC)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(ROUTERS_ZSET, {self.sender: now})
        pipe.zremrangebyscore(ROUTERS_ZSET, "-inf", now - ROUTER_ALIVE_SECONDS)
        pipe.zcard(ROUTERS_ZSET)
        results = await pipe.execute()
        return int(results[-1])

    async def read_all(self) -> SavedState:
        """Every key state in Redis (a background read: SCANs, MGETs and HGETALL)."""
        cooldowns: dict[Slot, tuple[float, bool, str]] = {}
        for value in await self._values(COOLDOWN_PREFIX):
            if (decoded := decode_cooldown(value)) is not None:
                cooldowns[decoded[0]] = decoded[1]
        breakers: dict[str, tuple[int, float, str]] = {}
        for value in await self._values(BREAKER_PREFIX):
            if (tripped := decode_breaker(value)) is not None:
                breakers[tripped[0]] = tripped[1]
        raw = await self._redis.hgetall(DISABLED_HASH)
        disabled = {_text(k): _text(v) for k, v in raw.items()}
        return SavedState(disabled, cooldowns, {}, breakers)

    async def _values(self, prefix: str) -> list[bytes]:
        names = [name async for name in self._redis.scan_iter(match=prefix + "*", count=500)]
        return [value for value in await self._redis.mget(names) if value is not None] if names else []

    async def sent_counts(self, groups: list[str], minute: int, day: str) -> dict[str, tuple[int, int, int]]:
        """Each group's sends on every router: (this day's, this minute's, the previous
        minute's); one MGET."""
        names = [name for group in groups for name in sent_keys(group, minute, day)]
        values = [int(v or 0) for v in await self._redis.mget(names)] if names else []
        return {group: (values[3 * i], values[3 * i + 1], values[3 * i + 2]) for i, group in enumerate(groups)}

    # -- start-up -------------------------------------------------------------------------------

    async def mark_started(self, supervisor: str) -> None:
        await self._redis.set(started_key(supervisor), "1", ex=STARTED_MARK_SECONDS)

    async def started(self, supervisor: str) -> bool:
        return bool(await self._redis.exists(started_key(supervisor)))

    # -- the dashboard's history, shared by every router and worker (key names only) ------------

    async def write_dashboard(self, minutes: list[Minute], events: list[Event], errors: dict[str, LastError]) -> None:
        """What one process recorded since its last write, in one pipelined round trip: each
        minute's counts added (HINCRBY), the events pushed onto the capped list (oldest first, so
        the newest ends up at its head; a key change another process pushed already is left out),
        each key's last error set."""
        pipe = ScriptedPipeline(self._redis.pipeline(transaction=False))
        for bucket in minutes:
            key = minute_key(bucket.minute)
            for name, value in minute_fields(bucket).items():
                pipe.commands.hincrby(key, name, value)
            pipe.commands.expire(key, MINUTE_TTL_SECONDS)
        if events:
            keys: list[str] = [EVENTS_LIST]
            args: list[Any] = [TRANSITION_MARK_SECONDS, SHARED_EVENTS - 1, DASHBOARD_KEEP_SECONDS]
            for event in events:
                marks = transition_marks(event)
                keys += marks
                args += [encode_event(event), len(marks)]
            pipe.script(self._dashboard_events, keys, args)
        if errors:
            pipe.commands.hset(ERRORS_HASH, mapping={name: encode_error(error) for name, error in errors.items()})
            pipe.commands.expire(ERRORS_HASH, DASHBOARD_KEEP_SECONDS)
        if len(pipe.commands):
            await pipe.execute()

    async def read_dashboard(self, minute: int, names: list[str], groups: Sequence[str] = (), day: str = "") -> SharedHistory:
        """The last hour up to `minute`, the events and the last errors of the keys `names`, as
        every process wrote them, and the quota `groups`' send counters of `day` and `minute`
        (sent_keys): one EVALSHA, the data endpoint's only round trip per poll."""
        span = range(minute - MINUTES + 1, minute + 1)
        sent = [name for group in groups for name in sent_keys(group, minute, day)]
        keys = [minute_key(m) for m in span] + [EVENTS_LIST, ERRORS_HASH] + sent
        args = [len(MINUTE_FIELDS), *MINUTE_FIELDS, len(sent), *names]
        rows, events, errors, sends = await self._dashboard_read(keys=keys, args=args)
        minutes = {}
        for m, row in zip(span, _text(rows).split(";"), strict=False):
            values = row.split(",")
            if any(values):
                minutes[m] = minute_from_fields(m, dict(zip(MINUTE_FIELDS, values, strict=False)))
        decoded = [e for raw in _text(events).split("\n") if raw and (e := decode_event(raw)) is not None]
        stored_errors = zip(names, _text(errors).split("\n"), strict=False)
        last = {name: e for name, raw in stored_errors if (e := decode_error(raw or None)) is not None}
        counts = [int(v) for v in _text(sends).split(",")] if sent else []
        by_group = {group: (counts[3 * i], counts[3 * i + 1], counts[3 * i + 2]) for i, group in enumerate(groups)}
        return SharedHistory(minutes, decoded, last, by_group)

    async def open_session(self, member: str, expiry: float, now: float, capacity: int) -> None:
        """A dashboard session every router and worker accepts until `expiry`; the oldest beyond
        `capacity` end (one MULTI/EXEC)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(SESSIONS_ZSET, {member: expiry})
        pipe.zremrangebyscore(SESSIONS_ZSET, "-inf", now)
        pipe.zremrangebyrank(SESSIONS_ZSET, 0, -capacity - 1)
        pipe.expire(SESSIONS_ZSET, DASHBOARD_KEEP_SECONDS)
        await pipe.execute()

    async def session_expiry(self, member: str) -> float | None:
        """When the session ends, or None when no router knows it (never opened, or ended)."""
        score = await self._redis.zscore(SESSIONS_ZSET, member)
        return None if score is None else float(score)

    async def close_session(self, member: str) -> None:
        await self._redis.zrem(SESSIONS_ZSET, member)


DASHBOARD_KEEP_SECONDS = 7 * 86400  # the events, last errors and sessions, after their last write


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
