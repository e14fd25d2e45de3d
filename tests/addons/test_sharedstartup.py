"""Start-up with Redis: the StartupGate holds requests until the first merge, and a worker reads
the shared state only once worker 0 pushed what it restored."""

from __future__ import annotations

import asyncio
import time

from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState
from sharedrouters import MODEL, config


async def test_a_worker_serves_only_once_worker_zero_shared_what_it_restored(redis_server):
    """Worker 0 alone reads the state file: worker 1 (same supervisor) reads the shared state
    only after worker 0's first merge pushed it, and its StartupGate holds requests until then."""
    redis_server.command("FLUSHALL")
    state_1 = RouterState()
    state_1.pool = KeyPool(config(redis_server.url).pool_keys(), cooldown_seconds=60)
    worker_1 = SharedPoolState(state_1, worker=1)
    worker_1.apply(config(redis_server.url))
    gate = worker_1.startup.request(None)  # type: ignore[arg-type]  # the gate reads no flow
    assert gate is not None
    waiting = asyncio.ensure_future(gate)
    await asyncio.sleep(0.5)  # worker 0 has not started: worker 1 keeps waiting
    assert not worker_1.startup.ready() and not waiting.done() and state_1.redis != "up"

    state_0 = RouterState()
    state_0.pool = KeyPool(config(redis_server.url).pool_keys(), cooldown_seconds=60)
    state_0.pool.report(1, Outcome(Verdict.KEY_FORBIDDEN, "403 restored from the state file"), time.time(), MODEL)
    worker_0 = SharedPoolState(state_0, worker=0)
    worker_0.apply(config(redis_server.url))
    await asyncio.wait_for(waiting, 5)
    assert worker_1.startup.ready() and worker_1.startup.request(None) is None  # type: ignore[arg-type]
    assert state_1.pool.disabled_reason(1) == "403 restored from the state file"  # no second to wait for
    for shared in (worker_0, worker_1):
        await shared.done()
