"""A redis-server per test module (tests/procs.py start_redis) for the RedisStore tests, flushed
before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
