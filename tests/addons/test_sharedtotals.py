"""Totals on demand (/health): the other routers push what they counted before the totals are shown."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sharedrouters import router, until


async def test_totals_shown_include_what_every_other_router_counted_since_its_last_push(redis_server):
    """/health's totals (fresh_totals): the other routers are asked to push theirs first, so a
    request another router answered a moment ago is in them, not a second later."""
    redis_server.command("FLUSHALL")
    (state_a, a), (state_b, b), (state_c, c) = router(redis_server.url), router(redis_server.url), router(redis_server.url)
    await until(lambda: state_a.redis == state_b.redis == state_c.redis == "up")
    await until(lambda: all(s.store is not None and s.store.channel.listening for s in (a, b, c)))
    await asyncio.sleep(0.05)  # past the sync rounds' pushes at start: only the ask pushes what follows
    state_a.total_requests += 3
    state_c.total_requests += 4
    state_c.total_saved += Decimal("0.25")
    await b.fresh_totals()
    assert (state_b.total_requests, state_b.total_saved) == (7, Decimal("0.25"))
    for shared in (a, b, c):
        await shared.done()
