"""Config reloads told to every router sharing a Redis: each other router reloads once, never
announcing it again; while Redis is down the reload is local and says so once."""

from __future__ import annotations

import asyncio

from loguru import logger
from procs import free_port
from sharedrouters import router, until


async def test_a_reload_announced_by_one_router_reloads_each_other_router_once(redis_server):
    redis_server.command("FLUSHALL")
    (state_a, a), (state_b, b), (state_c, c) = router(redis_server.url), router(redis_server.url), router(redis_server.url)
    reloads: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    for name, shared in (("a", a), ("b", b), ("c", c)):
        shared.peer_reload = reloads[name].append
    await until(lambda: state_a.redis == state_b.redis == state_c.redis == "up")
    await until(lambda: all(s.store is not None and s.store.channel.listening for s in (a, b, c)))
    assert await a.announce_reload("admin_api") == 2
    await until(lambda: bool(reloads["b"] and reloads["c"]))
    assert await b.announce_reload("peer") == 0  # a peer's reload is never announced again: no loop
    await asyncio.sleep(0.2)  # what a loop or a duplicate would have delivered by now
    assert reloads == {"a": [], "b": [a.name], "c": [a.name]}
    for shared in (a, b, c):
        await shared.done()


async def test_a_reload_while_redis_is_down_is_local_and_says_so_once():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        state, shared = router(f"redis://:hunter2-secret@127.0.0.1:{free_port()}/1")
        await until(lambda: state.redis == "down")
        lines.clear()
        assert await shared.announce_reload("admin_api") is None
        await shared.done()
    finally:
        logger.remove(sink)
    assert len(lines) == 1 and "the other routers were not told to reload" in lines[0]
    assert "hunter2" not in "".join(lines)
