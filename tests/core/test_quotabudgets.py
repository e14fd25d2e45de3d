"""Quota budgets per (group, model): configured, learned and spent, as the pool picks with them."""

from __future__ import annotations

from hpn_router.config import KeyConfig
from hpn_router.core.keypool import KeyPool
from hpn_router.core.keystates import KeyState
from pooltools import M, pool


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
