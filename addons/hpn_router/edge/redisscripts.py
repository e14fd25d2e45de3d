"""The Lua scripts RedisStore runs (edge/sharedstate.py registers them; EVALSHA after the first
use). Each checks and changes in one atomic step what two routers could otherwise both take
(a cooldown's later deadline, a client's last request of the minute, a budget, a cache lead, a
webhook's one sender, a dashboard event), or reads in one round trip what would take many.
Their KEYS and ARGV are named above each; the key names are core/rediskeys.py's.
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

from hpn_router.core.access import ClientWindow

CLIENT_TTL_MS = 120_000  # a client's minute counter outlives the minute after it

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
-- The check when the call carries the client's counters at KEYS[k], KEYS[k + 1] and its
-- limit at ARGV[a .. a + 2]; admitted (true, 0, 0) when it carries none.
local function client_if_carried(k, a)
  if #KEYS < k + 1 then
    return true, 0, 0
  end
  return client_admitted(KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2])
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
local ok, current, previous = client_if_carried(3, 4)
if not ok then
  return {false, 0, 0, current, previous}
end
local admitted = 1
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
# KEYS: core/rediskeys.quota_keys [, the client's counters]; ARGV: rpm, rpd, tpm (0: none),
# the previous minute's weight, the request's input tokens, the day counter's lifetime in ms
# [, the client check's]. With the client's counters, the client is checked first: refused, the
# budget is neither read nor counted. Returns {admitted, minute requests, day requests, minute
# tokens} (before this request), then {client admitted, current, previous} (1, 0, 0 without).
QUOTA_SCRIPT = (
    CLIENT_CHECK_LUA
    + """
local ok, current, previous = client_if_carried(6, 7)
if not ok then
  return {0, 0, 0, 0, 0, current, previous}
end
local admitted = 1
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


def client_check_args(client: ClientWindow) -> list[Any]:
    """CLIENT_CHECK_LUA's ARGV for `client`, appended to its host script's own."""
    return [client.rpm, client.weight, CLIENT_TTL_MS]


class ScriptedPipeline:
    """A pipeline whose scripts go as bare EVALSHAs: one round trip. (redis-py sends SCRIPT EXISTS
    before a pipeline that holds a registered script, `Script(client=pipe)`: a second round trip
    each time, for the rare Redis that restarted or flushed its scripts.) A script Redis does not
    know fails alone, inside a transaction too, while the pipeline's other commands ran: only
    that script runs again (its Script loads it first), so nothing is counted twice. Run again
    outside the transaction, it is atomic on its own; the script (a later deadline kept, an event
    pushed once) does not depend on the transaction's other commands."""

    def __init__(self, pipe: Any) -> None:
        self.commands = pipe  # queue the plain commands here
        self._scripts: list[tuple[int, AsyncScript, list[str], list[Any]]] = []  # (position, script, keys, args)

    def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> None:
        self._scripts.append((len(self.commands), script, keys, args))
        self.commands.evalsha(script.sha, len(keys), *keys, *args)

    async def execute(self) -> list[Any]:
        results: list[Any] = await self.commands.execute(raise_on_error=False)
        for position, script, keys, args in self._scripts:
            if isinstance(results[position], NoScriptError):
                results[position] = await script(keys=keys, args=args)
        if (error := next((r for r in results if isinstance(r, ResponseError)), None)) is not None:
            raise error
        return results
