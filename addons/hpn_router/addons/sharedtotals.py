"""Totals on demand (/health) across routers sharing a Redis: before /health shows totals, every
router pushes what it counted since its last push (asked over pub/sub, core/sharedtotals.py
TotalsNotice; waited for at most TOTALS_WAIT_SECONDS), so the totals include every request
answered before this one, on whichever router or worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import TYPE_CHECKING

from hpn_router.core.sharedtotals import TotalsNotice
from hpn_router.edge.sharedstate import RedisStore, StoreError

if TYPE_CHECKING:
    from hpn_router.addons.sharedstate import SharedPoolState

TOTALS_WAIT_SECONDS = 0.5  # /health waits at most this long for the other routers to push their totals


class SharedTotals:
    def __init__(self, shared: SharedPoolState) -> None:
        self.shared = shared
        self._asks: dict[str, _TotalsAsk] = {}  # this router's pending asks, by id
        self._tasks: set[asyncio.Task[None]] = set()

    async def fresh(self) -> None:
        """Every router pushes what it counted since its last push, then this one pushes its own
        and takes the sums."""
        store = self.shared.redis_store()
        if store is None:
            return
        ask = _TotalsAsk(secrets.token_hex(8))
        self._asks[ask.ask] = ask
        try:
            ask.expected = await store.channel.publish_totals(ask.ask, pushed=False)
            ask.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ask.done.wait(), TOTALS_WAIT_SECONDS)
            await self.shared.push_changes()
        except StoreError as e:
            self.shared.redis_failed(e)
        finally:
            del self._asks[ask.ask]

    def take_notice(self, notice: TotalsNotice) -> None:
        """From the channel: another router's ask (push, then answer) or an answer to ours."""
        store = self.shared.store
        if store is None or notice.sender == store.sender:
            return
        if notice.pushed:
            if (ask := self._asks.get(notice.ask)) is not None:
                ask.answered += 1
                ask.check()
            return
        task = asyncio.get_running_loop().create_task(self._push_for(store, notice.ask))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_for(self, store: RedisStore, ask: str) -> None:
        """Another router asked for the totals: push them, then say so."""
        try:
            await self.shared.push_changes()
            await store.channel.publish_totals(ask, pushed=True)
        except StoreError as e:
            self.shared.redis_failed(e)


class _TotalsAsk:
    """One /health's ask: done once every other router that got it said it pushed."""

    def __init__(self, ask: str) -> None:
        self.ask = ask
        self.expected: int | None = None  # known once the ask is published (answers may come first)
        self.answered = 0
        self.done = asyncio.Event()

    def check(self) -> None:
        if self.expected is not None and self.answered >= self.expected:
            self.done.set()
