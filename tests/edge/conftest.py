"""A redis-server per test module (tests/procs.py start_redis) for the RedisStore tests, flushed
before each test; for the reverse front's tests a front on a free loopback port, a real relay and
a real streaming upstream (tests/frontkit.py has the rest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web
from frontkit import EVENTS, MODE, FakeMaster, Front, full_options
from hpn_router.edge.relay import StreamRelay
from hpn_router.edge.reversefront import ReverseFront
from localserver import serving_app
from mitmproxy.proxy.mode_specs import ProxyMode
from procs import RedisServer, start_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    redis_server.command("FLUSHALL")
    return redis_server


@pytest.fixture
async def front() -> AsyncIterator[Front]:
    master = FakeMaster(full_options())
    rf = ReverseFront(master)
    assert await rf.listen([ProxyMode.parse(MODE)])
    port = rf.servers[0].sockets[0].getsockname()[1]
    yield Front(master, rf, port)
    await rf.close()


@pytest.fixture
async def stream_relay() -> AsyncIterator[StreamRelay]:
    r = StreamRelay()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def upstream() -> AsyncIterator[aiohttp.ClientSession]:
    """A real aiohttp upstream streaming EVENTS one write at a time from GET /stream."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in EVENTS:
            await response.write(event)
            await asyncio.sleep(0)
        return response

    app = web.Application()
    app.router.add_get("/stream", events)
    async with serving_app(app) as base_url, aiohttp.ClientSession(base_url=base_url) as session:
        yield session
