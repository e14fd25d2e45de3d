"""Start-up with Redis (`state.redis_url`): a router serves nothing before its first merge with
the shared state, so a worker started beside others never answers from a pool that lacks their
state. Under `server.workers`, worker 0 alone restores the state file: the other workers of the
same supervisor read the shared state only once worker 0 has pushed what it restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from mitmproxy import http

from hpn_router.edge.sharedstate import RedisStore

if TYPE_CHECKING:
    from hpn_router.addons.sharedstate import SharedPoolState

# A request waits at most this long for the router's first merge with Redis, and a supervisor's
# worker 1..N-1 as long for worker 0 to share what it restored from the state file.
STARTUP_WAIT_SECONDS = 5.0
STARTED_POLL_SECONDS = 0.05


class StartupGate:
    """First among the `request` hooks that read the pool (router.py): with Redis, a request that
    arrives before the router's first merge waits for it (at most STARTUP_WAIT_SECONDS); /health
    too, so a worker answers /health only once ready. SharedPoolState's sync loop tells it when
    the first merge is done (`merged`)."""

    def __init__(self, shared: SharedPoolState) -> None:
        self.shared = shared
        self.merged = asyncio.Event()  # the first merge with Redis is done (or Redis was found down)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        return None if self.ready() else self.wait_ready()

    def ready(self) -> bool:
        """Whether requests may be served: no Redis to share with, or the first merge is done."""
        return self.shared.url is None or self.merged.is_set()

    async def wait_ready(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.merged.wait(), STARTUP_WAIT_SECONDS)

    async def before_first_read(self, store: RedisStore) -> None:
        """Another worker than worker 0 reads the shared state once worker 0 has pushed it
        (bounded: a worker 0 that cannot start must not keep the others from serving)."""
        supervisor = self.shared.supervisor
        if self.shared.worker in (None, 0) or supervisor is None:
            return
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        while not await store.started(supervisor) and time.monotonic() < deadline:
            await asyncio.sleep(STARTED_POLL_SECONDS)

    async def after_first_merge(self, store: RedisStore) -> None:
        """Worker 0 has shared what it restored: its supervisor's other workers may read it now."""
        if self.shared.worker == 0 and self.shared.supervisor is not None:
            await store.mark_started(self.shared.supervisor)
