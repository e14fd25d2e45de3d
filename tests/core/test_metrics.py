"""The pure side of the metrics: outcome names, bounded model labels, key states at a given
time, and the router's own share of a request's time."""

from __future__ import annotations

import pytest
from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict, classify_response, classify_transport_error
from hpn_router.core.keypool import KeyPool
from hpn_router.core.metrics import KEY_STATES, OTHER, OUTCOMES, KeyStatus, ModelLabels, key_states, outcome_label, router_overhead

M = "gemini-2.5-flash"
NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        (classify_response(200, b"{}"), "ok"),
        (Outcome(Verdict.RATE_LIMITED, "429 Too Many Requests"), "rate_limited"),
        (Outcome(Verdict.QUOTA_EXHAUSTED, "429 per-day quota exhausted"), "quota_day"),
        (Outcome(Verdict.KEY_INVALID, "400 API key invalid"), "invalid_key"),
        (Outcome(Verdict.KEY_FORBIDDEN, "403 permission denied"), "invalid_key"),
        (Outcome(Verdict.KEY_PRECONDITION, "400 failed precondition"), "invalid_key"),
        (classify_response(503, b""), "server_error"),
        (classify_transport_error("timeout"), "timeout"),
        (classify_transport_error("connection error (ClientConnectorError)"), "connect_error"),
        (classify_response(404, b""), "client_error"),
    ],
)
def test_each_outcome_has_its_label(outcome: Outcome, label: str) -> None:
    assert outcome_label(outcome) == label


def test_every_verdict_maps_into_the_listed_outcomes() -> None:
    assert {outcome_label(Outcome(v, "x")) for v in Verdict} <= set(OUTCOMES)


def test_model_labels_keep_configured_names_and_bound_the_rest() -> None:
    labels = ModelLabels(known={"gpt-4o"}, bound=2)
    assert [labels.label(n) for n in ("gemini-a", "gemini-b", "gemini-c", "gemini-a")] == ["gemini-a", "gemini-b", OTHER, "gemini-a"]
    assert labels.label("gpt-4o") == "gpt-4o"  # configured: kept beyond the bound
    assert labels.label(None) == "none"


def test_model_labels_refuse_names_no_client_spells() -> None:
    labels = ModelLabels(bound=100)
    assert labels.label("x" * 81) == OTHER
    assert labels.label('gpt"} 1\nhpn_fake 2') == OTHER
    assert labels.label("models/gemini-2.5-pro") == "models/gemini-2.5-pro"


def _pool() -> KeyPool:
    keys = [
        KeyConfig(name="a", key="secret-a", project="p1"),
        KeyConfig(name="b", key="secret-b", project="p2"),
        KeyConfig(name="c", key="secret-c", project="p3"),
        KeyConfig(name="d", key="secret-d"),
        KeyConfig(name="e", key="secret-e", project="p5"),
    ]
    return KeyPool(keys, cooldown_seconds=60)


def test_key_states_follow_the_pool_at_the_given_time() -> None:
    pool = _pool()
    pool.report(1, Outcome(Verdict.RATE_LIMITED, "429", retry_after=10), NOW, M)
    pool.report(2, Outcome(Verdict.QUOTA_EXHAUSTED, "429 per-day"), NOW, M)
    pool.report(3, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), NOW, M)
    pool.report(4, classify_transport_error("timeout"), NOW, M)
    rows = key_states(pool, NOW + 4)
    assert [(r.key, r.project, r.state) for r in rows] == [
        ("a", "p1", "active"),
        ("b", "p2", "cooling"),
        ("c", "p3", "parked"),
        ("d", "key:d", "disabled"),
        ("e", "p5", "cooling"),  # its breaker: it did not answer
    ]
    assert [r.cooldown_seconds for r in rows][:2] == [0.0, 6.0]
    assert rows[2].cooldown_seconds > 6.0 and rows[3].cooldown_seconds == 0.0 and rows[4].cooldown_seconds == 1.0
    assert {r.provider for r in rows} == {"gemini"}
    # Level-triggered: once the cooldown is over, the key reads active with nobody writing it.
    assert key_states(pool, NOW + 11)[1] == KeyStatus("gemini", "b", "p2", "active", 0.0)
    assert {r.state for r in rows} <= set(KEY_STATES)


def test_key_states_hold_names_never_values() -> None:
    text = repr(key_states(_pool(), NOW))
    assert "secret" not in text


def test_router_overhead_excludes_upstream_spans() -> None:
    assert router_overhead(10.0, 12.0, [(10.1, 11.0), (11.2, 11.9)]) == pytest.approx(0.4)
    assert router_overhead(10.0, 10.5, []) == 0.5
    assert router_overhead(10.0, 10.5, [(10.0, 11.0)]) == 0.0  # never negative
