"""Requests sent upstream, counted per quota group for every router sharing a Redis (the admin
API's requests_today and requests_last_minute, the dashboard's per-key counts). A request that
changed nothing in the pool still sent upstream: its send is added to the shared counts by a
push in the background, after its client got the answer (`flush_soon`: one push at a time, the
sends of concurrent requests ride together, at most one every SEND_FLUSH_SECONDS). Reading them
back is one MGET plus what this router has not pushed yet (core/sendtally.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from hpn_router.core.access import minute_bucket
from hpn_router.core.quota import pacific_day
from hpn_router.core.sendtally import quota_groups, shared_request_counts
from hpn_router.edge.sharedstate import StoreError

if TYPE_CHECKING:
    from hpn_router.addons.sharedstate import SharedPoolState

SEND_FLUSH_SECONDS = 0.05  # sends pushed at most this often in the background (under load they batch)


class SharedSends:
    def __init__(self, shared: SharedPoolState) -> None:
        self.shared = shared
        self._flusher: asyncio.Task[None] | None = None

    def flush_soon(self) -> None:
        """Push the sends tallied so far in the background, unless a push already is on its way."""
        pool = self.shared.state.pool
        if pool is not None and pool.sent and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None

    async def _flush(self) -> None:
        """Push the sends tallied since the last push, and again while more come in (spaced out:
        under load one push carries the sends of many requests)."""
        while (pool := self.shared.state.pool) is not None and pool.sent and self.shared.state.redis == "up":
            try:
                await self.shared.push_changes()
            except StoreError as e:
                self.shared.redis_failed(e)
                return
            await asyncio.sleep(SEND_FLUSH_SECONDS)

    async def request_counts(self, now: float) -> dict[str, tuple[int, int]] | None:
        """Each quota group's (requests today, requests in the last minute) on every router:
        one MGET, plus what this router has not pushed yet. None when not shared, or Redis is
        down (the caller shows this router's own counts)."""
        pool, store = self.shared.state.pool, self.shared.redis_store()
        if pool is None or store is None:
            return None
        try:
            shared = await store.sent_counts(quota_groups(pool), minute_bucket(now)[0], pacific_day(now))
        except StoreError as e:
            self.shared.redis_failed(e)
            return None
        return shared_request_counts(pool, shared, now)
