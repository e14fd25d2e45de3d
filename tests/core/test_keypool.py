"""The key pool as a state machine, with the time passed in."""

from __future__ import annotations

from collections import Counter

from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool, KeyState

M = "gemini-2.5-flash"


def pool(n: int = 3, **kw) -> KeyPool:
    keys = [KeyConfig(name=f"key_{i + 1}", key=f"secret-{i + 1}", **kw) for i in range(n)]
    return KeyPool(keys, cooldown_seconds=60)


def test_round_robin_is_even():
    p = pool(3)
    picks = Counter(p.pick(0.0, M) for _ in range(30))
    assert picks == {0: 10, 1: 10, 2: 10}


def test_exclude_skips_tried_keys():
    p = pool(3)
    assert p.pick(0.0, M, {0, 1}) == 2
    assert p.pick(0.0, M, {0, 1, 2}) is None


def test_rate_limit_cools_for_retry_delay_then_recovers():
    p = pool(2)
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=10), now=100.0, model=M)
    assert p.state(0, 105.0, M) is KeyState.COOLING
    assert [p.pick(105.0, M) for _ in range(3)] == [1, 1, 1]
    assert p.state(0, 110.0, M) is KeyState.ACTIVE


def test_rate_limit_without_delay_uses_cooldown_seconds():
    p = pool(1)
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429"), now=0.0, model=M)
    assert p.state(0, 59.9, M) is KeyState.COOLING
    assert p.state(0, 60.0, M) is KeyState.ACTIVE


def test_cooldown_is_per_model():
    p = pool(1)
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), now=0.0, model=M)
    assert p.pick(1.0, M) is None
    assert p.pick(1.0, "gemini-2.5-pro") == 0


def test_keys_of_one_project_cool_together():
    keys = [KeyConfig("a", "k1", project="p1"), KeyConfig("b", "k2", project="p1"), KeyConfig("c", "k3")]
    p = KeyPool(keys, cooldown_seconds=60)
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), now=0.0, model=M)
    assert p.state(1, 1.0, M) is KeyState.COOLING
    assert p.pick(1.0, M) == 2


def test_invalid_key_is_disabled_for_good():
    p = pool(2)
    p.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), now=0.0, model=M)
    assert p.state(0, 10**9, M) is KeyState.DISABLED
    assert p.disabled_reason(0) == "400 API key invalid"
    assert p.active_count() == 1
    assert {p.pick(float(t), M) for t in range(10)} == {1}


def test_transient_and_client_errors_do_not_penalise():
    p = pool(1)
    p.report(0, Outcome(Verdict.TRANSIENT, "503"), now=0.0, model=M)
    p.report(0, Outcome(Verdict.CLIENT_ERROR, "400"), now=0.0, model=M)
    assert p.state(0, 0.0, M) is KeyState.ACTIVE


def test_exhaustion_reports_earliest_recovery():
    p = pool(2)
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=20), now=0.0, model=M)
    p.report(1, Outcome(Verdict.RATE_LIMITED, "429", retry_after=5), now=0.0, model=M)
    state = p.exhaustion(1.0, M)
    assert state.earliest_recovery == 5.0
    assert not state.daily_only and not state.all_disabled


def test_exhaustion_daily_only_and_all_disabled():
    p = pool(2)
    p.report(0, Outcome(Verdict.QUOTA_EXHAUSTED, "per day"), now=0.0, model=M)
    p.report(1, Outcome(Verdict.QUOTA_EXHAUSTED, "per day"), now=0.0, model=M)
    assert p.exhaustion(1.0, M).daily_only
    q = pool(1)
    q.report(0, Outcome(Verdict.KEY_FORBIDDEN, "403"), now=0.0, model=M)
    assert q.exhaustion(0.0, M).all_disabled


def test_disabled_in_config_is_never_picked():
    keys = [KeyConfig("a", "k1", enabled=False), KeyConfig("b", "k2")]
    p = KeyPool(keys, cooldown_seconds=60)
    assert {p.pick(0.0, M) for _ in range(5)} == {1}
