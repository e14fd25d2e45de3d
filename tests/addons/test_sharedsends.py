"""Requests sent per quota group: pushed in the background, read back for every router."""

from __future__ import annotations

import time

from sharedrouters import MODEL, router, until


async def test_sends_are_counted_for_every_router_and_this_routers_own_when_redis_is_down(redis_server):
    redis_server.command("FLUSHALL")
    (state_a, a), (state_b, b) = router(redis_server.url), router(redis_server.url)
    await until(lambda: state_a.redis == state_b.redis == "up")
    assert state_a.pool is not None and state_b.pool is not None
    now = time.time()
    for _ in range(3):
        state_a.pool.record_send(0, now, MODEL)
    state_b.pool.record_send(1, now, MODEL)
    await a.response(None)  # type: ignore[arg-type]  # nothing else changed: a background push
    await until(lambda: not state_a.pool.sent)
    group_b = state_b.pool.group(1)
    await until(lambda: redis_server.command("GET", f"hpn:v1:sent:{_digest('p1')}:d:{state_a.pool.sent.day}").strip() == "3")
    counts = await b.request_counts(time.time())  # b pushed nothing yet: its own send counts too
    assert counts is not None and counts["p1"][0] == 3 and counts[group_b][0] == 1
    assert counts["p1"][1] >= 3
    await b.done()
    assert await b.request_counts(time.time()) is None  # not connected: the caller counts locally
    await a.done()


def _digest(group: str) -> str:
    import hashlib

    return hashlib.sha256(group.encode()).hexdigest()[:32]
