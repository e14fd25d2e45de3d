"""The flash cache's and stored Responses' Redis commands, part of RedisStore (edge/sharedstate.py):
values are bytes the core modules encode (core/cachedanswer.py, the Responses store); key names
are digests (core/rediskeys.py). A cache lookup may carry the client's rate check in the same
script (edge/redisscripts.py LOOKUP_SCRIPT).
"""

from __future__ import annotations

from typing import Any

from hpn_router.core.access import ClientCount, ClientWindow
from hpn_router.core.rediskeys import cache_entry_key, cache_lead_key, client_rpm_keys, response_key
from hpn_router.edge.redisscripts import client_check_args


class CacheCommands:
    """Mixed into RedisStore, which opens the connection and registers the scripts."""

    _redis: Any
    _lookup: Any  # LOOKUP_SCRIPT
    _finish: Any  # FINISH_SCRIPT
    _renew: Any  # RENEW_SCRIPT

    async def cache_lookup(
        self, key: str, token: str, lead_ms: int, *, lead: bool, client: ClientWindow | None = None
    ) -> tuple[bytes | None, int, ClientCount | None]:
        """(entry, lead, the client's check): one EVALSHA. lead is 1 when this request now leads
        for `key`, 2 when another router does, 0 when nobody does. With `client`, the same round
        trip checks it first: refused, no entry and no lead."""
        keys = [cache_entry_key(key), cache_lead_key(key)]
        args: list[Any] = [token, lead_ms, "1" if lead else "0"]
        if client is not None:
            keys, args = keys + client_rpm_keys(client.client, client.minute), args + client_check_args(client)
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
