"""The Lua scripts against a real redis-server: each compiles (a syntax error would otherwise
surface only on the first request that runs it), and the client check's arguments follow its
host script's own."""

from __future__ import annotations

import pytest
from hpn_router.core.access import ClientWindow
from hpn_router.edge import redisscripts
from hpn_router.edge.redisscripts import CLIENT_TTL_MS, client_check_args

SCRIPTS = sorted(name for name in vars(redisscripts) if name.endswith("_SCRIPT"))


def test_every_script_is_listed():
    assert len(SCRIPTS) == 10


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_compiles_in_redis(redis, name):
    sha = redis.command("SCRIPT", "LOAD", getattr(redisscripts, name)).strip()
    assert len(sha) == 40 and redis.command("SCRIPT", "EXISTS", sha).strip() == "1"


def test_the_client_checks_arguments_are_its_rate_its_weight_and_its_counters_lifetime():
    window = ClientWindow("client_a", 7, 60030.0)
    assert client_check_args(window) == [7, window.weight, CLIENT_TTL_MS]
