"""The routers' pub/sub channel (core/rediskeys.CHANNEL): each router listens to the others'
pool deltas, config reload notices and totals asks, and publishes its own notices on it. (Deltas
are published by RedisStore.push, inside the push's transaction.)

A router misses what is published while it is not subscribed: the sync loop's read-back of the
whole state once a second is the backstop for deltas (addons/sharedstate.py).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from hpn_router.core.rediskeys import CHANNEL
from hpn_router.core.sharedreload import ReloadNotice, decode_reload, encode_reload
from hpn_router.core.sharedstate import PoolDelta, decode_delta
from hpn_router.core.sharedtotals import TotalsNotice, decode_totals, encode_totals


class SharedChannel:
    def __init__(self, redis: Any, sender: str) -> None:
        self._redis = redis
        self.sender = sender  # this router's connection id: it skips its own deltas
        self.listening = False  # subscribed to the channel right now (PUBLISH counts this router too)

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

    async def publish_totals(self, ask: str, *, pushed: bool) -> int:
        """Asks every router to push its totals now (pushed False), or tells them this one did;
        how many other routers got it."""
        return await self._publish(encode_totals(TotalsNotice(self.sender, ask, pushed)))

    async def publish_reload(self, origin: str, siblings: str | None) -> int:
        """Tells the other routers to reload their config; how many got the notice."""
        return await self._publish(encode_reload(ReloadNotice(self.sender, origin, secrets.token_hex(8), siblings)))

    async def _publish(self, message: str) -> int:
        """PUBLISH's subscriber count, less this router's own subscription."""
        receivers = int(await self._redis.publish(CHANNEL, message))
        return max(0, receivers - (1 if self.listening else 0))
