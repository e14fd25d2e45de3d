"""SharedPoolState against a real redis-server (and a port where none listens): without a URL
nothing changes; with one, two pools in one loop become one pool; a dead Redis is `down`
in /health, never an error, and is logged once per outage."""

from __future__ import annotations

import asyncio
import time

from hpn_router.addons.health import Health
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState
from loguru import logger
from procs import RedisServer, free_port
from sharedrouters import KEYS, MODEL, config, router, until


def test_without_a_url_nothing_is_shared_and_health_is_unchanged():
    state, shared = router(None)
    shared.running()
    assert shared.store is None and state.redis is None
    assert "redis" not in Health(state).snapshot()


async def test_two_pools_on_one_redis_are_one_pool(redis_server):
    redis_server.command("FLUSHALL")
    (state_a, a), (state_b, b) = router(redis_server.url), router(redis_server.url)
    await until(lambda: state_a.redis == state_b.redis == "up")
    assert Health(state_a).snapshot()["redis"] == "up"
    assert state_a.pool is not None and state_b.pool is not None
    now = time.time()
    state_a.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429 rate limited", retry_after=30.0), now, MODEL)
    state_a.total_requests += 2
    await a.response(None)  # type: ignore[arg-type]  # the hook reads only the pool
    await until(lambda: state_b.pool is not None and state_b.pool.cooldown_of(0, time.time(), MODEL) is not None, 1.0)
    state_b.pool.enable(0)
    await b.response(None)  # type: ignore[arg-type]
    await until(lambda: state_a.pool is not None and state_a.pool.cooldown_of(0, time.time(), MODEL) is None, 1.0)
    await until(lambda: state_a.total_requests == state_b.total_requests == 2)
    await a.done()
    await b.done()


async def test_a_dead_redis_is_down_and_degraded_logged_once():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        state, shared = router(f"redis://:hunter2-secret@127.0.0.1:{free_port()}/1")
        await asyncio.sleep(2.5)  # two or three sync rounds, each failing
        assert state.redis == "down"
        assert Health(state).snapshot()["status"] == "degraded"
        await shared.response(None)  # type: ignore[arg-type]  # never raises
        await shared.done()
    finally:
        logger.remove(sink)
    down = [line for line in lines if "Redis unreachable" in line]
    assert len(down) == 1
    assert "hunter2" not in "".join(lines)


def commands(redis: RedisServer) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT (INFO commandstats)."""
    counts = {}
    for line in redis.command("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            counts[name.removeprefix("cmdstat_")] = int(rest.split(",")[0].removeprefix("calls="))
    return counts


async def test_a_request_that_changes_nothing_costs_no_redis_command_a_change_one_transaction(redis_server):
    redis_server.command("FLUSHALL")
    state, shared = router(redis_server.url)
    await until(lambda: state.redis == "up")
    assert shared._loop_task is not None and shared._listener is not None
    shared._loop_task.cancel()  # only the hook's own commands are counted
    shared._listener.cancel()
    await asyncio.sleep(0.05)
    redis_server.command("CONFIG", "RESETSTAT")
    assert state.pool is not None
    for _ in range(10):
        state.pool.record_send(0, time.time(), MODEL)  # what an ordinary request does to the pool
        await shared.response(None)  # type: ignore[arg-type]
    assert {name.split("|")[0] for name in commands(redis_server)} <= {"config", "info"}  # redis-cli's own
    state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429 rate limited", retry_after=30.0), time.time(), MODEL)
    await shared.response(None)  # type: ignore[arg-type]
    counts = commands(redis_server)
    assert (counts["multi"], counts["exec"], counts["publish"]) == (1, 1, 1)  # one round trip, after the upstream call
    await shared.done()


async def test_a_router_never_re_enables_a_key_it_does_not_have(redis_server):
    redis_server.command("FLUSHALL")
    extra = {"name": "x", "key": "AIzaSySharedKeyXxxxxxxxxxxx"}
    (state_a, a), (state_b, b) = router(redis_server.url), router(redis_server.url, [*KEYS, extra])
    await until(lambda: state_a.redis == state_b.redis == "up")
    assert state_a.pool is not None and state_b.pool is not None
    state_b.pool.report(2, Outcome(Verdict.KEY_INVALID, "400 API key invalid or expired"), time.time(), MODEL)
    await b.response(None)  # type: ignore[arg-type]
    await asyncio.sleep(0.2)  # A hears it (and has no such key)
    state_a.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429 rate limited", retry_after=30.0), time.time(), MODEL)
    await a.response(None)  # type: ignore[arg-type]
    assert state_b.pool.keys[2].fingerprint in redis_server.command("HKEYS", "hpn:v1:disabled")
    await a.done()
    await b.done()


async def test_restored_totals_are_not_added_twice_and_survive_redis_losing_its_data(redis_server):
    redis_server.command("FLUSHALL")
    state_a = RouterState()
    state_a.total_requests = 7  # e.g. restored, or counted before: Redis is empty
    cfg = config(redis_server.url)
    state_a.pool = KeyPool(cfg.pool_keys(), cooldown_seconds=60)
    a = SharedPoolState(state_a)
    a.apply(cfg)
    await until(lambda: state_a.redis == "up")
    state_b = RouterState()
    state_b.total_requests = 7  # a restarted router that had seen the shared sum
    state_b.pool = KeyPool(cfg.pool_keys(), cooldown_seconds=60)
    b = SharedPoolState(state_b)
    b.apply(cfg)
    await until(lambda: state_b.redis == "up")
    assert redis_server.command("HGET", "hpn:v1:totals", "requests").strip() == "7"
    redis_server.command("FLUSHALL")  # Redis lost its data: the routers still know the sum
    await until(lambda: redis_server.command("HGET", "hpn:v1:totals", "requests").strip() == "7")
    state_a.total_requests += 1
    await until(lambda: state_a.total_requests == state_b.total_requests == 8)
    await a.done()
    await b.done()


async def test_a_key_that_hangs_on_one_router_is_passed_over_by_the_other_until_it_answers(redis_server):
    redis_server.command("FLUSHALL")
    (state_a, a), (state_b, b) = router(redis_server.url), router(redis_server.url)
    await until(lambda: state_a.redis == state_b.redis == "up")
    assert state_a.pool is not None and state_b.pool is not None
    state_a.pool.report(0, Outcome(Verdict.UNANSWERED, "timeout"), time.time(), MODEL)
    await a.response(None)  # type: ignore[arg-type]
    await until(lambda: state_b.pool is not None and state_b.pool.breaker_of(0, time.time()) is not None, 1.0)
    assert state_b.pool.pick(time.time(), MODEL) == 1 and state_b.pool.pick(time.time(), MODEL) == 1
    state_b.pool.report(0, Outcome(Verdict.OK, "200"), time.time(), MODEL)  # it answered on b
    await b.response(None)  # type: ignore[arg-type]
    await until(lambda: state_a.pool is not None and state_a.pool.breaker_of(0, time.time()) is None, 1.0)
    await a.done()
    await b.done()


async def test_a_change_heard_while_the_state_is_read_back_is_not_taken_for_undone(redis_server):
    """The once-a-second read-back races the pub/sub listener: a cooldown heard while the read is
    on its way is not in what was read, and must not read as lifted."""
    from hpn_router.core.sharedstate import PoolDelta

    redis_server.command("FLUSHALL")
    state, shared = router(redis_server.url)
    await until(lambda: state.redis == "up")
    store, pool = shared.store, state.pool
    assert store is not None and pool is not None
    read_all = store.read_all
    heard = PoolDelta(cooled={("p1", MODEL): (time.time() + 30, False, "429 from another router")})

    async def read_while_a_message_arrives():
        remote = await read_all()
        shared._adopt(heard)  # the listener, meanwhile
        return remote

    store.read_all = read_while_a_message_arrives  # type: ignore[method-assign]
    await shared._take_remote(store)
    assert pool.cooldown_of(0, time.time(), MODEL) is not None
    await shared.done()
