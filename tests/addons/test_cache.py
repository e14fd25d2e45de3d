"""FlashCache: its entries (TTL, bound, emptied only when the cache section changes) and a Redis
that fails under it."""

from __future__ import annotations

import socket

from cacheflows import BODY, Clock, ask, make, status
from flowtools import captured_logs, router_config
from hpn_router.addons.cache import FlashCache
from hpn_router.addons.cachelookup import CacheLookup
from hpn_router.addons.cachestore import CacheStore
from hpn_router.addons.flowcontext import context
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.core.state import RouterState
from hpn_router.edge.sharedstate import RedisStore


async def test_ttl_expiry_with_injected_clock() -> None:
    clock = Clock()
    _, lookup, store = make(clock, ttl_seconds=300)
    await ask(lookup, store)
    clock.now += 299
    assert status(await ask(lookup, store)) == "HIT"
    clock.now += 2
    assert status(await ask(lookup, store)) == "MISS"


async def test_entry_bound() -> None:
    flash, lookup, store = make(max_entries=2)
    for text in ("a", "b", "c"):
        await ask(lookup, store, {**BODY, "messages": [{"role": "user", "content": text}]})
    assert len(flash.entries) == 2
    assert status(await ask(lookup, store, {**BODY, "messages": [{"role": "user", "content": "a"}]})) == "MISS"


async def test_disabled_cache_does_nothing() -> None:
    flash, lookup, store = make(enabled=False)
    flow = await ask(lookup, store)
    assert flash.entries is None and context(flow).cache is None and status(flow) is None


async def test_config_reload_keeps_entries_unless_the_cache_section_changes() -> None:
    flash, lookup, store = make()
    await ask(lookup, store)
    flash.apply(router_config(models={"fast": "gemini-2.5-flash"}, logging={"level": "debug"}))
    assert status(await ask(lookup, store)) == "HIT"
    flash.apply(router_config(cache={"ttl_seconds": 10}))
    assert status(await ask(lookup, store)) == "MISS"


async def test_a_redis_that_fails_during_a_lookup_costs_no_request_and_counts_as_down() -> None:
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = RouterState()
    shared = SharedPoolState(state)
    shared.store, state.redis = RedisStore(f"redis://127.0.0.1:{port}"), "up"  # as if it had been up until now
    flash = FlashCache(shared=shared, timer=Clock())
    flash.apply(router_config(cache={}, models={"fast": "gemini-2.5-flash"}))
    lookup, store = CacheLookup(flash), CacheStore(flash)
    with captured_logs() as logs:
        first = await ask(lookup, store)
    assert status(first) == "MISS" and first.response.status_code == 200  # answered from upstream
    assert state.redis == "down" and [r.get("event") for r in logs].count("redis_down") == 1
    assert status(await ask(lookup, store)) == "HIT"  # this router's own cache, without Redis
    await shared.store.close()
