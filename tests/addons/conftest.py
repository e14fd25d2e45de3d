"""A redis-server per test module (tests/procs.py start_redis) for the shared-state addon tests;
a module that needs its own defines its own fixture of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from procs import RedisServer, start_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
