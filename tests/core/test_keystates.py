"""The key values behind the pool: the breaker's growing skip and the rotation order, through the pool."""

from __future__ import annotations

from hpn_router.config import KeyConfig
from hpn_router.core.keypool import KeyPool
from pooltools import M, no_answer, pool


def test_rotation_spreads_across_projects_first():
    keys = [
        KeyConfig("a1", "k1", project="A"),
        KeyConfig("a2", "k2", project="A"),
        KeyConfig("b1", "k3", project="B"),
        KeyConfig("b2", "k4", project="B"),
    ]
    p = KeyPool(keys, cooldown_seconds=60)
    assert [p.name(p.pick(0.0, M)) for _ in range(4)] == ["a1", "b1", "a2", "b2"]


def test_the_skip_grows_with_each_failure_in_a_row_up_to_a_minute():
    p = pool(2)
    untils = []
    for n in range(6):
        now = 1000.0 * n
        p.report(0, no_answer("connection error (ServerDisconnectedError)"), now=now, model=M)
        untils.append(p.breaker_of(0, now).until - now)
    assert untils == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
