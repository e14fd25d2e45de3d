"""The routers' pub/sub channel against a real redis-server: each other router hears a delta, a
reload notice reaches every listener and counts the others."""

from __future__ import annotations

import asyncio
import time

from hpn_router.core.sharedreload import ReloadNotice
from hpn_router.core.sharedstate import PoolDelta
from hpn_router.edge.sharedstate import RedisStore


async def test_other_routers_hear_each_delta_but_not_their_own(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    heard_by_b: list[PoolDelta] = []
    heard_by_a: list[PoolDelta] = []
    listeners = [asyncio.create_task(b.channel.listen(heard_by_b.append)), asyncio.create_task(a.channel.listen(heard_by_a.append))]
    deadline = time.monotonic() + 5
    while redis.command("PUBSUB", "NUMSUB", "hpn:v1:events").split()[-1] != "2" and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    change = PoolDelta(disabled={"digest-1": "401"})
    await a.push(change, 0, 0)
    while not heard_by_b and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert heard_by_b == [change]
    assert heard_by_a == []
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    await a.close()
    await b.close()


async def test_a_reload_notice_reaches_every_listener_and_counts_the_others(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    assert await a.channel.publish_reload("host-a pid 1", None) == 0  # nobody listens yet
    notices: dict[str, list[ReloadNotice]] = {"a": [], "b": []}
    deltas: list[PoolDelta] = []
    listeners = [asyncio.create_task(s.channel.listen(deltas.append, notices[n].append)) for n, s in (("a", a), ("b", b))]
    deadline = time.monotonic() + 5
    while not (a.channel.listening and b.channel.listening) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert await a.channel.publish_reload("host-a pid 1", "host-a pid 0") == 1  # B; A's own subscription is not counted
    while not (notices["a"] and notices["b"]) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    [heard] = notices["b"]
    assert (heard.sender, heard.origin, heard.siblings) == (a.sender, "host-a pid 1", "host-a pid 0")
    assert notices["a"] == [heard] and deltas == []  # its own too (SharedPoolState skips it), and no delta
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    await a.close()
    await b.close()
