"""The key pool as a state machine, with the time passed in."""

from __future__ import annotations

from collections import Counter

from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool, KeyState
from hpn_router.core.sharedstate import PoolDelta

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


def test_rotation_spreads_across_projects_first():
    keys = [
        KeyConfig("a1", "k1", project="A"),
        KeyConfig("a2", "k2", project="A"),
        KeyConfig("b1", "k3", project="B"),
        KeyConfig("b2", "k4", project="B"),
    ]
    p = KeyPool(keys, cooldown_seconds=60)
    assert [p.name(p.pick(0.0, M)) for _ in range(4)] == ["a1", "b1", "a2", "b2"]


def test_configured_rpm_skips_a_spent_project_before_gemini_refuses():
    from hpn_router.core.quota import Limits

    keys = [KeyConfig("a", "k1", project="A"), KeyConfig("b", "k2", project="B")]
    p = KeyPool(keys, cooldown_seconds=60, limits={("A", M): Limits(rpm=2), ("B", M): Limits(rpm=2)})
    picks = []
    for t in range(4):
        i = p.pick(float(t), M)
        p.record_send(i, float(t), M)
        picks.append(p.name(i))
    assert sorted(picks) == ["a", "a", "b", "b"]
    assert p.pick(5.0, M) is None
    assert p.state(0, 5.0, M) is KeyState.COOLING
    assert p.exhaustion(5.0, M).earliest_recovery == 60.0  # first send of A at t=0 or 1 leaves the window
    assert p.state(0, 62.0, M) is KeyState.ACTIVE  # the minute window moved on


def test_most_headroom_goes_next():
    from hpn_router.core.quota import Limits

    keys = [KeyConfig("a", "k1", project="A"), KeyConfig("b", "k2", project="B")]
    p = KeyPool(keys, cooldown_seconds=60, limits={("A", "*"): Limits(rpm=10), ("B", "*"): Limits(rpm=10)})
    for _ in range(5):
        p.record_send(0, 0.0, M)
    assert [p.name(p.pick(1.0, M)) for _ in range(3)] == ["b", "b", "b"]


def test_daily_budget_spent_waits_for_pacific_midnight():
    from hpn_router.core.classify import next_pacific_midnight
    from hpn_router.core.quota import Limits

    p = KeyPool([KeyConfig("a", "k1", project="A")], cooldown_seconds=60, limits={("A", M): Limits(rpd=2)})
    p.record_send(0, 100.0, M)
    p.record_send(0, 200.0, M)
    assert p.pick(300.0, M) is None
    state = p.exhaustion(300.0, M)
    assert state.daily_only and state.earliest_recovery == next_pacific_midnight(300.0)
    assert p.pick(next_pacific_midnight(300.0) + 1, M) == 0


def test_limits_are_learned_from_quota_failure():
    import json

    from hpn_router.core.classify import classify_response

    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "x",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "3"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"},
            ],
        }
    }
    p = pool(1)
    p.report(0, classify_response(429, json.dumps(body).encode()), 0.0, M)
    for t in (2.0, 3.0, 4.0):
        p.record_send(0, t, M)
    assert p.state(0, 5.0, M) is KeyState.COOLING  # learned rpm 3 is spent, no 429 needed


def test_snapshot_survives_a_restart_for_keys_that_stay():
    p = pool(2)
    p.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), now=0.0, model=M)
    p.report(1, Outcome(Verdict.RATE_LIMITED, "429", retry_after=100), now=0.0, model=M)
    p.record_send(1, 1.0, M)
    snap = p.snapshot(2.0)
    assert "secret" not in str(snap)
    q = pool(2)
    q.restore(snap, 3.0)
    assert q.state(0, 3.0, M) is KeyState.DISABLED and q.disabled_reason(0) == "400 API key invalid"
    assert q.state(1, 3.0, M) is KeyState.COOLING
    assert q.requests_today(1, 3.0) == 1
    r = KeyPool([KeyConfig("other", "x")], cooldown_seconds=60)
    r.restore(snap, 3.0)
    assert r.state(0, 3.0, M) is KeyState.ACTIVE


def test_enable_brings_a_key_back():
    p = pool(1)
    p.report(0, Outcome(Verdict.KEY_FORBIDDEN, "403"), now=0.0, model=M)
    p.enable(0)
    assert p.state(0, 0.0, M) is KeyState.ACTIVE


def no_answer(kind: str = "timeout") -> Outcome:
    return Outcome(Verdict.UNANSWERED, kind)


def test_a_key_that_does_not_answer_is_skipped_for_a_short_while():
    p = pool(3)
    p.report(0, no_answer(), now=100.0, model=M)
    assert [p.pick(101.0, M) for _ in range(4)] == [1, 2, 1, 2]
    breaker = p.breaker_of(0, 101.0)
    assert breaker is not None and (breaker.failures, breaker.until, breaker.reason) == (1, 105.0, "timeout")
    assert p.breaker_of(0, 105.0) is None and p.pick(105.0, M, {1, 2}) == 0


def test_the_skip_grows_with_each_failure_in_a_row_up_to_a_minute():
    p = pool(2)
    untils = []
    for n in range(6):
        now = 1000.0 * n
        p.report(0, no_answer("connection error (ServerDisconnectedError)"), now=now, model=M)
        untils.append(p.breaker_of(0, now).until - now)
    assert untils == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


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


def test_requests_by_project_gives_every_keys_figures_in_one_pass():
    keys = [KeyConfig("a", "va", project="p1"), KeyConfig("b", "vb", project="p1"), KeyConfig("c", "vc")]
    p = KeyPool(keys, cooldown_seconds=60)
    p.record_send(0, 0.0, M)
    p.record_send(1, 50.0, M)
    p.record_send(1, 50.0, "other-model")
    p.record_send(2, 70.0, M)
    by_project = p.requests_by_project(80.0)
    assert by_project == {"p1": (3, 2), p.keys[2].project_id: (1, 1)}
    for index in range(3):  # the same figures as the per-key methods
        assert by_project[p.keys[index].project_id] == (p.requests_today(index, 80.0), p.requests_last_minute(index, 80.0))
    tomorrow = 80.0 + 2 * 86400
    assert p.requests_by_project(tomorrow)["p1"] == (0, 0)


def test_quota_of_names_the_budget_and_adopted_usage_spends_it():
    from hpn_router.core.quota import Limits

    keys = [KeyConfig("a", "KA", project="A"), KeyConfig("b", "KB", project="B")]
    p = KeyPool(keys, cooldown_seconds=60, limits={("A", "*"): Limits(rpm=3, rpd=100)})
    assert p.quota_of(0, "m") == (("A", "m"), Limits(rpm=3, rpd=100))
    assert p.quota_of(1, "m") is None  # nothing limits B
    p.adopt_usage(0, "m", 1000.0, 3, 10, 0)  # what every router spent
    assert p.pick(1000.0, "m") == 1 and p.pick(1000.0, "m", exclude={1}) is None
    assert p.requests_today(0, 1000.0) == 10


def test_a_trip_and_a_close_are_changes_other_routers_hear_of():
    p = pool(2)
    before = p.revision
    p.report(0, no_answer(), now=0.0, model=M)
    assert p.revision > before and p.saved_state(1.0).breakers == {p.keys[0].fingerprint: (1, 5.0, "timeout")}
    tripped = p.revision
    p.report(0, Outcome(Verdict.OK, "200"), now=1.0, model=M)
    assert p.revision > tripped and p.saved_state(1.0).breakers == {}
    answered = p.revision
    p.report(1, Outcome(Verdict.OK, "200"), now=1.0, model=M)
    assert p.revision == answered  # an answer from a key without a breaker changes nothing shared


def test_an_adopted_breaker_keeps_the_later_deadline_and_counts_on_from_its_failures():
    p = pool(2)
    fingerprint = p.keys[0].fingerprint
    p.report(0, no_answer(), now=0.0, model=M)  # until 5
    p.adopt(PoolDelta(tripped={fingerprint: (3, 20.0, "connection error (x)")}), 0.0)
    p.adopt(PoolDelta(tripped={fingerprint: (1, 4.0, "timeout")}), 0.0)  # earlier: ignored
    assert (p.breaker_of(0, 1.0).failures, p.breaker_of(0, 1.0).until) == (3, 20.0)
    p.adopt(PoolDelta(tripped={"someone-elses-key": (1, 9.0, "t")}), 0.0)
    assert p.unanswered_count(1.0) == 1


def test_a_reload_keeps_open_breakers_and_untaken_sends():
    old = pool(2)
    old.record_send(0, 1.0, M)
    old.report(1, no_answer(), now=1.0, model=M)
    new = pool(2)
    new.carry_over(old, 2.0)
    assert new.breaker_of(1, 2.0) is not None and new.sent.counts(new.group(0), 2.0)[0] == 1
