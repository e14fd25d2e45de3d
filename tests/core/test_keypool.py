"""The key pool as a state machine, with the time passed in."""

from __future__ import annotations

from collections import Counter

from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.keystates import KeyState
from pooltools import M, no_answer, pool


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


def test_enable_brings_a_key_back():
    p = pool(1)
    p.report(0, Outcome(Verdict.KEY_FORBIDDEN, "403"), now=0.0, model=M)
    p.enable(0)
    assert p.state(0, 0.0, M) is KeyState.ACTIVE


def test_a_key_that_does_not_answer_is_skipped_for_a_short_while():
    p = pool(3)
    p.report(0, no_answer(), now=100.0, model=M)
    assert [p.pick(101.0, M) for _ in range(4)] == [1, 2, 1, 2]
    breaker = p.breaker_of(0, 101.0)
    assert breaker is not None and (breaker.failures, breaker.until, breaker.reason) == (1, 105.0, "timeout")
    assert p.breaker_of(0, 105.0) is None and p.pick(105.0, M, {1, 2}) == 0


def test_any_answer_from_the_key_closes_its_breaker():
    p = pool(2)
    p.report(0, no_answer(), now=0.0, model=M)
    p.report(0, no_answer(), now=20.0, model=M)
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=1), now=31.0, model=M)
    assert p.breaker_of(0, 31.0) is None
    p.report(0, no_answer(), now=40.0, model=M)
    assert p.breaker_of(0, 40.0).until == 45.0  # counting starts again


def test_the_breaker_is_per_key_not_per_project():
    keys = [KeyConfig("a", "k1", project="p1"), KeyConfig("b", "k2", project="p1")]
    p = KeyPool(keys, cooldown_seconds=60)
    p.report(0, no_answer(), now=0.0, model=M)
    assert p.breaker_of(1, 1.0) is None
    assert {p.pick(1.0, M) for _ in range(3)} == {1}


def test_when_every_other_key_is_unusable_a_tripped_key_is_still_tried():
    p = pool(2)
    p.report(0, no_answer(), now=0.0, model=M)
    p.report(1, Outcome(Verdict.KEY_INVALID, "400"), now=0.0, model=M)
    assert p.pick(1.0, M) == 0  # better a key that may hang than no key at all
    assert p.state(0, 1.0, M) is KeyState.ACTIVE and p.has_active(1.0, M)
    assert p.pick(1.0, M, {0}) is None


def test_a_request_picks_only_its_providers_keys_and_counts_only_them_exhausted():
    keys = [
        KeyConfig(name="g", key="secret-g"),
        KeyConfig(name="m1", key="secret-m1", provider="mistral"),
        KeyConfig(name="m2", key="secret-m2", provider="mistral"),
    ]
    p = KeyPool(keys, cooldown_seconds=60)
    assert {p.pick(0.0, "mistral-small-latest", provider="mistral") for _ in range(6)} == {1, 2}
    assert {p.pick(0.0, M, provider="gemini") for _ in range(3)} == {0}
    p.report(0, Outcome(Verdict.KEY_INVALID, "401"), 0.0, M)
    assert p.pick(0.0, M, provider="gemini") is None and p.exhaustion(0.0, M, "gemini").all_disabled
    assert p.has_active(0.0, M, "mistral") and not p.exhaustion(0.0, M, "mistral").all_disabled


def test_the_seeds_google_provider_is_gemini():
    assert KeyConfig(name="g", key="secret", provider="google").provider == "gemini"


def test_keys_of_one_learned_organization_cool_together_and_a_configured_project_wins():
    keys = [
        KeyConfig(name="a1", key="secret-a1", provider="anthropic"),
        KeyConfig(name="a2", key="secret-a2", provider="anthropic"),
        KeyConfig(name="b", key="secret-b", provider="anthropic"),
        KeyConfig(name="p", key="secret-p", provider="anthropic", project="mine"),
    ]
    p = KeyPool(keys, cooldown_seconds=60)
    for index in (0, 1, 3):
        p.learn_group(index, "org-uuid-a")
    p.learn_group(2, "org-uuid-b")
    assert p.group(0) == p.group(1) != p.group(2) and p.group(3) == "mine"
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), 0.0, "claude-x")
    # The 429 on a1 cools a2 (same organization) but not b, nor the key with its own project.
    assert [p.state(i, 1.0, "claude-x") for i in range(4)] == [KeyState.COOLING, KeyState.COOLING, KeyState.ACTIVE, KeyState.ACTIVE]
    # A restarted pool keeps the learned group's cooldown; its keys rejoin it with their next answer.
    again = KeyPool(keys, cooldown_seconds=60)
    again.restore(p.snapshot(1.0), 1.0)
    again.learn_group(1, "org-uuid-a")
    assert again.state(1, 1.0, "claude-x") is KeyState.COOLING and again.state(0, 1.0, "claude-x") is KeyState.ACTIVE
