"""Shared pool state, the Redis I/O: writes a pool delta and the totals in one transaction,
reads everything back, and listens to the other routers' deltas (core/sharedstate.py decides
what to write and how to merge; this module only talks to Redis).

Every command has short socket timeouts and no retries of its own: a Redis that is down or slow
costs the background sync one failed call, never a request (requests read the in-memory pool).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
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
from hpn_router.core.sharedstate import (
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
    PoolDelta,
    ReloadNotice,
    SendTally,
    TotalsNotice,
    breaker_key,
    cache_entry_key,
    cache_lead_key,
    client_rpm_keys,
    cooldown_key,
    decode_breaker,
    decode_cooldown,
    decode_delta,
    decode_reload,
    decode_totals,
    encode_breaker,
    encode_cooldown,
    encode_delta,
    encode_reload,
    encode_totals,
    pico_to_saved,
    response_key,
    sent_keys,
    started_key,
)

SOCKET_TIMEOUT_SECONDS = 0.5  # a Redis slower than this is treated as down (requests never wait on it)
MAX_CONNECTIONS = 8  # the background sync and the listener: a few connections are plenty

# Keeps the later of two deadlines (two routers cooling one project, or tripping one key's
# breaker, at once) and lets Redis expire the key at that deadline (PXAT). KEYS[1] cooldown or
# breaker key; ARGV: until (ms), value (JSON with an `until` in seconds).
COOL_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, data = pcall(cjson.decode, current)
  if ok and type(data) == 'table' and tonumber(data['until']) and tonumber(data['until']) * 1000 >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[1])
return 1
"""

# Raises each total to at least the given value (Redis lost its data, or a router starts with
# totals restored from its state file): routers then agree on the largest total anyone knew,
# instead of adding up copies of one sum. KEYS[1] totals hash; ARGV: requests, saved_pico.
RAISE_TOTALS_SCRIPT = """
local fields = {'requests', 'saved_pico'}
local result = {}
for i, name in ipairs(fields) do
  local current = tonumber(redis.call('HGET', KEYS[1], name) or '0')
  local given = tonumber(ARGV[i])
  if given > current then
    redis.call('HSET', KEYS[1], name, ARGV[i])
    current = given
  end
  result[i] = tostring(current)
end
return result
"""

# A client's request against its limit on every router at once: counted only when admitted, so
# checking and counting are one atomic step (two routers never both take the last request).
# Prefixed to the scripts a request's first round trip may run, so that trip checks the client
# too (core/access.ClientWindow): its counters, this minute's and the previous minute's; its
# rpm, the previous minute's weight, the counter's lifetime in ms. Returns admitted (true or
# false), this minute's count (after counting), the previous minute's.
CLIENT_CHECK_LUA = """
local function client_admitted(current_key, previous_key, rpm, weight, ttl)
  local current = tonumber(redis.call('GET', current_key) or '0')
  local previous = tonumber(redis.call('GET', previous_key) or '0')
  if current + math.ceil(previous * tonumber(weight)) >= tonumber(rpm) then
    return false, current, previous
  end
  current = redis.call('INCR', current_key)
  redis.call('PEXPIRE', current_key, ttl)
  return true, current, previous
end
"""

# The client check alone (no other round trip before the upstream call carried it).
# KEYS: the client's counters; ARGV: rpm, weight, ttl. Returns {admitted, current, previous}.
CLIENT_RPM_SCRIPT = (
    CLIENT_CHECK_LUA
    + """
local ok, current, previous = client_admitted(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
return {ok and 1 or 0, current, previous}
"""
)

# The flash cache's lookup, in one round trip: the entry if there is one; otherwise the lead
# (SET NX PX) when this request may lead, and whether another router leads. KEYS: entry, lead
# [, the client's counters]; ARGV: token, lead ttl (ms), "1" to lead [, the client check's].
# With the client's counters, the client is checked first: refused, no entry is read and no lead
# taken. Returns {entry or nil, 1 led | 2 another leads | 0 none, client admitted, current, previous}
# (1, 0, 0 without a client check).
LOOKUP_SCRIPT = (
    CLIENT_CHECK_LUA
    + """
local admitted, current, previous = 1, 0, 0
if #KEYS == 4 then
  local ok
  ok, current, previous = client_admitted(KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6])
  if not ok then
    return {false, 0, 0, current, previous}
  end
end
local entry = redis.call('GET', KEYS[1])
if entry then
  return {entry, 0, admitted, current, previous}
end
if ARGV[3] == '1' and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {false, 1, admitted, current, previous}
end
return {false, redis.call('EXISTS', KEYS[2]) * 2, admitted, current, previous}
"""
)

# Stores a finished answer (ARGV[2], unless empty) and gives up the lead, but only if it is still
# this request's (a lead that expired may be another's now). KEYS: entry, lead; ARGV: token (empty:
# none), entry, ttl (ms).
FINISH_SCRIPT = """
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
return 0
"""

# Extends a lead that is still this request's. KEYS: lead; ARGV: token, ttl (ms). 1: extended.
RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# One transition, sent once whatever the number of routers that saw it: the first router to set
# its mark sends it. KEYS: the mark and its neighbours (core/webhooks.dedup_marks); ARGV: TTL s.
CLAIM_SCRIPT = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 1
"""

# A (project, model) budget checked and counted for every router at once: the request is
# counted only when every configured window admits it. Sliding minutes as CLIENT_CHECK_LUA.
# KEYS: core/sharedstate.quota_keys [, the client's counters]; ARGV: rpm, rpd, tpm (0: none),
# the previous minute's weight, the request's input tokens, the day counter's lifetime in ms
# [, the client check's]. With the client's counters, the client is checked first: refused, the
# budget is neither read nor counted. Returns {admitted, minute requests, day requests, minute
# tokens} (before this request), then {client admitted, current, previous} (1, 0, 0 without).
QUOTA_SCRIPT = (
    CLIENT_CHECK_LUA
    + """
local admitted, current, previous = 1, 0, 0
if #KEYS == 7 then
  local ok
  ok, current, previous = client_admitted(KEYS[6], KEYS[7], ARGV[7], ARGV[8], ARGV[9])
  if not ok then
    return {0, 0, 0, 0, 0, current, previous}
  end
end
local function count(name) return tonumber(redis.call('GET', name) or '0') end
local weight = tonumber(ARGV[4])
local minute = count(KEYS[1]) + math.ceil(count(KEYS[2]) * weight)
local day = count(KEYS[3])
local tokens = count(KEYS[4]) + math.ceil(count(KEYS[5]) * weight)
local rpm, rpd, tpm = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if (rpm > 0 and minute >= rpm) or (rpd > 0 and day >= rpd) or (tpm > 0 and tokens >= tpm) then
  return {0, minute, day, tokens, admitted, current, previous}
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 120000)
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
if tonumber(ARGV[5]) > 0 then
  redis.call('INCRBY', KEYS[4], ARGV[5])
  redis.call('PEXPIRE', KEYS[4], 120000)
end
return {1, minute, day, tokens, admitted, current, previous}
"""
)

# The dashboard's events, each key change once whatever the number of processes that saw it: the
# first to set its mark pushes it (core/dashboardevents.transition_marks); failovers carry no marks.
# KEYS: the list, then each event's marks; ARGV: mark TTL s, last index kept, list TTL s, then per
# event its JSON and its number of marks. Returns how many were pushed.
DASHBOARD_EVENTS_SCRIPT = """
local k, pushed = 2, 0
for i = 4, #ARGV, 2 do
  local n = tonumber(ARGV[i + 1])
  local first = true
  for j = k, k + n - 1 do
    if redis.call('EXISTS', KEYS[j]) == 1 then first = false end
  end
  if first then
    if n > 0 then redis.call('SET', KEYS[k], '1', 'EX', ARGV[1]) end
    redis.call('LPUSH', KEYS[1], ARGV[i])
    pushed = pushed + 1
  end
  k = k + n
end
if pushed > 0 then
  redis.call('LTRIM', KEYS[1], 0, ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return pushed
"""

# The dashboard's whole read, one poll's only round trip, as four strings (redis-py parses a
# reply element by element in Python: 60 hashes, 200 events and 100 errors as elements cost a
# poll milliseconds more). KEYS: the hour's minute hashes, oldest first, then the event list, the
# errors hash, then the send counters; ARGV: the number of fields, the fields, the number of send
# counters, then the key names. Returns the minutes (one row a minute, ';'-separated, its values
# ','-separated, '' when missing), the events and the key names' last errors ('' when none), each
# '\n'-separated (their JSON has no raw newline), and the send counters (','-separated, 0 when missing).
DASHBOARD_READ_SCRIPT = """
local nf = tonumber(ARGV[1])
local ns = tonumber(ARGV[nf + 2])
local nm = #KEYS - 2 - ns
local fields = {}
for i = 1, nf do fields[i] = ARGV[i + 1] end
local rows = {}
for i = 1, nm do
  local values = redis.call('HMGET', KEYS[i], unpack(fields))
  for j = 1, nf do if not values[j] then values[j] = '' end end
  rows[i] = table.concat(values, ',')
end
local events = redis.call('LRANGE', KEYS[nm + 1], 0, -1)
local errors = {}
if #ARGV > nf + 2 then
  local names = {}
  for i = nf + 3, #ARGV do names[#names + 1] = ARGV[i] end
  errors = redis.call('HMGET', KEYS[nm + 2], unpack(names))
  for i = 1, #errors do if not errors[i] then errors[i] = '' end end
end
local sends = {}
if ns > 0 then
  sends = redis.call('MGET', unpack(KEYS, nm + 3))
  for i = 1, #sends do if not sends[i] then sends[i] = '0' end end
end
return {table.concat(rows, ';'), table.concat(events, '\\n'), table.concat(errors, '\\n'), table.concat(sends, ',')}
"""

CLIENT_TTL_MS = 120_000  # a client's minute counter outlives the minute after it

StoreError = (RedisError, OSError, asyncio.TimeoutError)  # what a down or slow Redis raises


class RedisStore:
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
        pipe = self._redis.pipeline(transaction=True)
        for slot, cooldown in change.cooled.items():
            await self._cool(keys=[cooldown_key(slot)], args=[int(cooldown[0] * 1000), encode_cooldown(slot, cooldown)], client=pipe)
        for slot in change.lifted:
            pipe.delete(cooldown_key(slot))
        for fingerprint, breaker in change.tripped.items():
            value = encode_breaker(fingerprint, breaker)
            await self._cool(keys=[breaker_key(fingerprint)], args=[int(breaker[1] * 1000), value], client=pipe)
        if change.closed:
            pipe.delete(*(breaker_key(k) for k in change.closed))
        for name, (count, ttl_ms) in (sent.increments() if sent else {}).items():
            pipe.incrby(name, count)
            pipe.pexpire(name, ttl_ms)
        if change.disabled:
            pipe.hset(DISABLED_HASH, mapping=change.disabled)
        if change.enabled:
            pipe.hdel(DISABLED_HASH, *change.enabled)
        pipe.hincrby(TOTALS_HASH, "requests", requests)
        pipe.hincrby(TOTALS_HASH, "saved_pico", saved_pico)
        if change:
            pipe.publish(CHANNEL, encode_delta(change, self.sender))
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
        admitted, current, previous = await self._client_rpm(keys=client_rpm_keys(client.client, client.minute), args=_client_args(client))
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
            keys, args = keys + client_rpm_keys(client.client, client.minute), args + _client_args(client)
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

    # -- flash cache and stored Responses (values are bytes the core modules encode) ----------

    async def cache_lookup(
        self, key: str, token: str, lead_ms: int, *, lead: bool, client: ClientWindow | None = None
    ) -> tuple[bytes | None, int, ClientCount | None]:
        """(entry, lead, the client's check): one EVALSHA. lead is 1 when this request now leads
        for `key`, 2 when another router does, 0 when nobody does. With `client`, the same round
        trip checks it first: refused, no entry and no lead."""
        keys = [cache_entry_key(key), cache_lead_key(key)]
        args: list[Any] = [token, lead_ms, "1" if lead else "0"]
        if client is not None:
            keys, args = keys + client_rpm_keys(client.client, client.minute), args + _client_args(client)
        entry, led, client_ok, current, previous = await self._lookup(keys=keys, args=args)
        checked = (bool(client_ok), int(current), int(previous)) if client is not None else None
        return entry, int(led), checked

    async def cache_poll(self, key: str) -> tuple[bytes | None, bool]:
        """(entry, whether a router still leads for it): one pipelined round trip."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(cache_entry_key(key))
        pipe.exists(cache_lead_key(key))
        entry, leading = await pipe.execute()
        return entry, bool(leading)

    async def cache_finish(self, key: str, token: str | None, entry: bytes | None, ttl_ms: int) -> None:
        """Store a finished answer (entry None: nothing to store) and give up the lead (token
        None: this request did not lead), in one EVALSHA."""
        if entry is None and token is None:
            return
        await self._finish(keys=[cache_entry_key(key), cache_lead_key(key)], args=[token or "", entry or b"", ttl_ms])

    async def cache_renew(self, key: str, token: str, lead_ms: int) -> bool:
        """Keep holding the lead for `key` another lead_ms; False when it is no longer ours."""
        return bool(await self._renew(keys=[cache_lead_key(key)], args=[token, lead_ms]))

    async def get_response(self, response_id: str) -> bytes | None:
        value: bytes | None = await self._redis.get(response_key(response_id))
        return value

    async def put_response(self, response_id: str, entry: bytes, ttl_ms: int) -> None:
        await self._redis.set(response_key(response_id), entry, px=ttl_ms)

    async def delete_response(self, response_id: str) -> None:
        await self._redis.delete(response_key(response_id))

    async def listen(
        self,
        on_delta: Callable[[PoolDelta], None],
        on_reload: Callable[[ReloadNotice], None] | None = None,
        on_totals: Callable[[TotalsNotice], None] | None = None,
        subscribed: asyncio.Event | None = None,
    ) -> None:
        """Calls on_delta for each other router's delta, on_reload for each reload notice and
        on_totals for each totals notice (its own too: the caller filters), until the connection
        fails (raises). `subscribed` is set once the subscription holds: a message published from
        then on reaches this router."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            self.listening = True
            if subscribed is not None:
                subscribed.set()
            while True:
                # No socket timeout here: an idle channel is normal; a dead Redis closes the socket.
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    await pubsub.ping()  # notices a Redis that went away while the channel was idle
                    continue
                self._dispatch(message["data"], on_delta, on_reload, on_totals)
        finally:
            self.listening = False
            await pubsub.aclose()

    def _dispatch(
        self,
        data: bytes,
        on_delta: Callable[[PoolDelta], None],
        on_reload: Callable[[ReloadNotice], None] | None,
        on_totals: Callable[[TotalsNotice], None] | None,
    ) -> None:
        decoded = decode_delta(data)
        if decoded is not None:
            if decoded[0] != self.sender:
                on_delta(decoded[1])
        elif on_reload is not None and (notice := decode_reload(data)) is not None:
            on_reload(notice)
        elif on_totals is not None and (totals := decode_totals(data)) is not None:
            on_totals(totals)

    # -- totals on demand and start-up ------------------------------------------------------------

    async def publish_totals(self, ask: str, *, pushed: bool) -> int:
        """Asks every router to push its totals now (pushed False), or tells them this one did;
        how many other routers got it."""
        receivers = int(await self._redis.publish(CHANNEL, encode_totals(TotalsNotice(self.sender, ask, pushed))))
        return max(0, receivers - (1 if self.listening else 0))

    async def mark_started(self, supervisor: str) -> None:
        await self._redis.set(started_key(supervisor), "1", ex=STARTED_MARK_SECONDS)

    async def started(self, supervisor: str) -> bool:
        return bool(await self._redis.exists(started_key(supervisor)))

    # -- config reloads -------------------------------------------------------------------------

    listening: bool = False  # subscribed to the channel right now (PUBLISH counts this router too)

    async def publish_reload(self, origin: str, siblings: str | None) -> int:
        """Tells the other routers to reload their config; how many got the notice (PUBLISH's
        subscriber count, less this router's own subscription)."""
        notice = ReloadNotice(self.sender, origin, secrets.token_hex(8), siblings)
        receivers = int(await self._redis.publish(CHANNEL, encode_reload(notice)))
        return max(0, receivers - (1 if self.listening else 0))

    # -- the dashboard's history, shared by every router and worker (key names only) ------------

    async def write_dashboard(self, minutes: list[Minute], events: list[Event], errors: dict[str, LastError]) -> None:
        """What one process recorded since its last write, in one pipelined round trip: each
        minute's counts added (HINCRBY), the events pushed onto the capped list (oldest first, so
        the newest ends up at its head; a key change another process pushed already is left out),
        each key's last error set."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in minutes:
            key = minute_key(bucket.minute)
            for name, value in minute_fields(bucket).items():
                pipe.hincrby(key, name, value)
            pipe.expire(key, MINUTE_TTL_SECONDS)
        if events:
            keys: list[str] = [EVENTS_LIST]
            args: list[Any] = [TRANSITION_MARK_SECONDS, SHARED_EVENTS - 1, DASHBOARD_KEEP_SECONDS]
            for event in events:
                marks = transition_marks(event)
                keys += marks
                args += [encode_event(event), len(marks)]
            await self._dashboard_events(keys=keys, args=args, client=pipe)
        if errors:
            pipe.hset(ERRORS_HASH, mapping={name: encode_error(error) for name, error in errors.items()})
            pipe.expire(ERRORS_HASH, DASHBOARD_KEEP_SECONDS)
        if len(pipe):
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


def _client_args(client: ClientWindow) -> list[Any]:
    return [client.rpm, client.weight, CLIENT_TTL_MS]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
