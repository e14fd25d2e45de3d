"""The pool's saved and shared state: a snapshot across a restart, changes other routers hear of, a reload."""

from __future__ import annotations

from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.keystates import KeyState
from hpn_router.core.sharedstate import PoolDelta
from pooltools import M, no_answer, pool


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
