"""PoolKeeper: the pool built from each config, and its state file at start-up, on reload and
at shutdown: owned by one router, read all or nothing, and filed by key value."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from hpn_router.addons.poolkeeper import PoolKeeper
from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keystates import KeyState
from hpn_router.core.state import RouterState

A, B = "AIzaSyHookKeyAaaaaaaaaaaaaaaaaaaaaaaaaa", "AIzaSyHookKeyBbbbbbbbbbbbbbbbbbbbbbbbbb"
M = "gemini-2.5-flash"


def config(keys: str, state_file: str):
    return parse_config({}, {"HPN_API_KEYS": keys, "HPN_STATE_FILE": state_file})


async def test_a_second_router_on_one_state_file_is_refused_through_stdlib_logging(tmp_path, caplog):
    path = str(tmp_path / "state.json")
    first = PoolKeeper(RouterState())
    first.apply(config(A, path))
    second_state = RouterState()
    with caplog.at_level(logging.ERROR, logger="hpn.state"):
        PoolKeeper(second_state).apply(config(A, path))
    assert second_state.pool is None  # never runs on another router's state
    [record] = [r for r in caplog.records if r.name == "hpn.state"]
    assert record.levelno == logging.ERROR and "HPN_STATE_FILE" in record.getMessage()
    first.done()
    PoolKeeper(RouterState()).apply(config(A, path))  # let go at shutdown


def test_a_worker_that_does_not_keep_the_state_file_neither_locks_nor_writes_it(tmp_path):
    """Under server.workers > 1 only worker 0 keeps the state file; the others run beside it."""
    path = str(tmp_path / "state.json")
    owner = PoolKeeper(RouterState())
    owner.apply(config(A, path))
    other_state = RouterState()
    other = PoolKeeper(other_state, keeps_state_file=False)
    other.apply(config(A, path))
    assert other_state.pool is not None  # not refused as a second router would be
    other.done()
    assert not (tmp_path / "state.json").exists()  # it wrote nothing
    owner.done()
    assert (tmp_path / "state.json").exists()


async def test_state_and_savings_come_back_by_key_value(tmp_path):
    path = str(tmp_path / "state.json")
    state = RouterState()
    routing = PoolKeeper(state)
    routing.apply(config(f"{A},{B}", path))
    state.pool.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), 0.0, M)
    state.total_saved = Decimal("0.0123")
    state.total_charged = Decimal("0.0045")
    routing.done()
    assert A not in (tmp_path / "state.json").read_text()
    again = RouterState()
    PoolKeeper(again).apply(config(f"{B},{A}", path))
    assert again.pool.state(1, 1.0, M) is KeyState.DISABLED and again.pool.state(0, 1.0, M) is KeyState.ACTIVE
    assert (again.total_saved, again.total_charged) == (Decimal("0.0123"), Decimal("0.0045"))


def test_a_bad_savings_total_starts_everything_fresh(tmp_path):
    path = tmp_path / "state.json"
    fingerprint = config(A, "").key_pool.keys[0].fingerprint
    saved = {"version": 2, "keys": {fingerprint: {"disabled": "x"}}, "cooldowns": [], "day_counts": [], "total_saved": "NaN"}
    path.write_text(json.dumps(saved))
    fresh = RouterState()
    PoolKeeper(fresh).apply(config(A, str(path)))
    assert fresh.pool.state(0, 1.0, M) is KeyState.ACTIVE and fresh.total_saved == 0
    saved["total_saved"] = "0.5"
    (tmp_path / "good.json").write_text(json.dumps(saved))
    restored = RouterState()
    PoolKeeper(restored).apply(config(A, str(tmp_path / "good.json")))
    assert restored.pool.state(0, 1.0, M) is KeyState.DISABLED and restored.total_saved == Decimal("0.5")
    assert restored.total_charged == 0  # a file written before charges were kept


def test_reload_moves_to_a_new_state_file_and_keeps_state_by_value(tmp_path):
    state = RouterState()
    routing = PoolKeeper(state)
    routing.apply(config(f"{A},{B}", str(tmp_path / "one.json")))
    state.pool.report(1, Outcome(Verdict.KEY_INVALID, "400"), 0.0, M)
    routing.apply(config(f"{B},{A}", str(tmp_path / "two.json")))
    assert state.pool.state(0, 1.0, M) is KeyState.DISABLED
    routing.save_state()
    assert (tmp_path / "two.json").exists() and not (tmp_path / "one.json").exists()
    PoolKeeper(RouterState()).apply(config(A, str(tmp_path / "one.json")))  # the old file is free again


def test_reload_keeps_an_open_breaker_by_value_so_shared_state_does_not_read_it_as_closed(tmp_path):
    clock = Clock()
    state = RouterState()
    keeper = PoolKeeper(state, clock=clock)
    keeper.apply(config(f"{A},{B}", ""))
    state.pool.record_send(0, clock.now, M)
    state.pool.report(1, Outcome(Verdict.UNANSWERED, "timeout"), clock.now, M)
    keeper.apply(config(f"{B},{A}", ""))
    assert state.pool.breaker_of(0, clock.now + 1) is not None and state.pool.breaker_of(1, clock.now + 1) is None
    assert state.pool.sent.counts(state.pool.group(1), clock.now)[0] == 1  # not yet pushed: still to count


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def upstream_flow(attempts: int):
    from hpn_router.addons.flowcontext import context
    from mitmproxy.test import tflow

    flow = tflow.tflow(resp=True)
    context(flow).attempts = attempts
    return flow


def test_answers_that_went_upstream_save_the_state_at_most_once_a_second(tmp_path):
    path = tmp_path / "state.json"
    clock, state = Clock(), RouterState()
    keeper = PoolKeeper(state, clock=clock)
    keeper.apply(config(A, str(path)))
    keeper.response(upstream_flow(attempts=0))  # answered by the router itself: nothing to save
    assert not path.exists()
    state.pool.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), clock(), M)
    keeper.response(upstream_flow(attempts=1))
    assert json.loads(path.read_text())["keys"]
    state.total_saved = Decimal("0.5")
    clock.now += 0.5
    keeper.response(upstream_flow(attempts=1))
    assert json.loads(path.read_text())["total_saved"] == "0"  # saved half a second ago
    clock.now += 0.5
    keeper.response(upstream_flow(attempts=1))
    assert json.loads(path.read_text())["total_saved"] == "0.5"
    keeper.done()
