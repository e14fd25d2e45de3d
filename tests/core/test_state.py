"""RouterState: the counters addons share; the savings total restores exactly and counts on."""

from __future__ import annotations

from decimal import Decimal

from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState


def test_active_keys_without_and_with_a_pool():
    state = RouterState()
    assert state.active_keys() == 0
    keys = parse_config({}, {"HPN_API_KEYS": "AIzaSyStateKeyA,AIzaSyStateKeyB"}).key_pool.keys
    state.pool = KeyPool(keys, cooldown_seconds=60)
    state.pool.report(0, Outcome(Verdict.KEY_INVALID, "400"), 0.0, "gemini-2.5-flash")
    assert state.active_keys() == 1


def test_a_restored_savings_total_is_exact_and_counts_on():
    state = RouterState()
    assert state.total_saved == 0
    state.total_saved = Decimal("0.1")
    state.savings.add(Decimal("0.2"))
    assert state.total_saved == Decimal("0.3")
