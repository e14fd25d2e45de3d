"""Shared pool state, the pure rules: deltas between states, merging after an outage, and the wire
format of messages, cooldowns and breakers."""

from __future__ import annotations

from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.poolsnapshot import SavedState
from hpn_router.core.rediskeys import breaker_key
from hpn_router.core.sharedstate import (
    EMPTY,
    PoolDelta,
    apply,
    decode_breaker,
    decode_cooldown,
    decode_delta,
    delta,
    encode_breaker,
    encode_cooldown,
    encode_delta,
    restrict,
    union,
)

NOW = 1_000_000.0
SLOT = ("proj-a", "gemini-flash-latest")


def state(disabled: dict[str, str] | None = None, cooldowns: dict | None = None) -> SavedState:
    return SavedState(disabled or {}, cooldowns or {}, {})


def test_delta_names_new_disables_and_cooldowns_and_what_was_lifted_before_its_deadline():
    before = state({"k1": "401"}, {SLOT: (NOW + 30, False, "429"), ("p", "m"): (NOW - 1, False, "old")})
    after = state({"k2": "403"}, {("proj-b", "m"): (NOW + 60, True, "429 day")})
    change = delta(before, after, NOW)
    assert change.disabled == {"k2": "403"}
    assert change.enabled == {"k1"}
    assert change.cooled == {("proj-b", "m"): (NOW + 60, True, "429 day")}
    assert change.lifted == {SLOT}  # ("p", "m") ran out by itself: no news


def test_a_later_deadline_is_news_an_earlier_one_is_not():
    before = state(cooldowns={SLOT: (NOW + 30, False, "429")})
    assert delta(before, state(cooldowns={SLOT: (NOW + 90, False, "429")}), NOW).cooled == {SLOT: (NOW + 90, False, "429")}
    assert not delta(before, state(cooldowns={SLOT: (NOW + 10, False, "429")}), NOW).cooled


def test_no_change_is_an_empty_delta():
    same = state({"k1": "401"}, {SLOT: (NOW + 30, False, "429")})
    assert not delta(same, same, NOW)
    assert delta(EMPTY, same, NOW)


def test_apply_makes_the_baseline_agree_with_the_other_side():
    before = state({"k1": "401"}, {SLOT: (NOW + 30, False, "429")})
    after = state({"k2": "403"}, {("proj-b", "m"): (NOW + 60, True, "day")})
    assert apply(before, delta(before, after, NOW), NOW) == after


def test_union_keeps_every_disable_and_the_later_deadline():
    a = state({"k1": "401"}, {SLOT: (NOW + 30, False, "a")})
    b = state({"k2": "403"}, {SLOT: (NOW + 90, False, "b"), ("p", "m"): (NOW + 5, True, "day")})
    merged = union(a, b, NOW)
    assert merged.disabled == {"k1": "401", "k2": "403"}
    assert merged.cooldowns == {SLOT: (NOW + 90, False, "b"), ("p", "m"): (NOW + 5, True, "day")}
    # Nothing either side has is lifted or enabled by the merge.
    assert not delta(a, merged, NOW).enabled and not delta(a, merged, NOW).lifted


def test_messages_and_cooldowns_round_trip_and_anything_else_is_refused():
    change = PoolDelta({"k2": "403"}, frozenset({"k1"}), {SLOT: (NOW + 30, True, "429 day")}, frozenset({("p", "m")}))
    assert decode_delta(encode_delta(change, "router-a")) == ("router-a", change)
    assert decode_cooldown(encode_cooldown(SLOT, (NOW, False, "r"))) == (SLOT, (NOW, False, "r"))
    for junk in (b"", b"[]", b'{"sender": 1}', b'{"project": "p", "model": "m", "until": "nan", "daily": false, "reason": "r"}'):
        assert decode_delta(junk) is None
        assert decode_cooldown(junk) is None


def keys() -> list[KeyConfig]:
    return [KeyConfig(name="key_1", key="AIza-one", project="proj-a"), KeyConfig(name="key_2", key="AIza-two")]


def test_a_pool_adopts_another_routers_changes_for_its_own_keys_and_projects_only():
    pool = KeyPool(keys(), cooldown_seconds=60)
    one, two = pool.keys
    before = pool.revision
    pool.adopt(
        PoolDelta(
            disabled={two.fingerprint: "401 API key invalid", "unknown-digest": "401"},
            cooled={SLOT: (NOW + 30, False, "429"), ("proj-elsewhere", "m"): (NOW + 30, False, "429")},
        ),
        NOW,
    )
    assert pool.revision > before
    assert pool.disabled_reason(1) == "401 API key invalid"
    assert pool.cooldown_of(0, NOW, SLOT[1]) is not None
    assert pool.saved_state(NOW) == state({two.fingerprint: "401 API key invalid"}, {SLOT: (NOW + 30, False, "429")})
    pool.adopt(PoolDelta(enabled=frozenset({two.fingerprint}), lifted=frozenset({SLOT})), NOW)
    assert pool.disabled_reason(1) is None
    assert pool.pick(NOW, SLOT[1]) is not None and pool.cooldown_of(0, NOW, SLOT[1]) is None
    assert one.fingerprint not in pool.saved_state(NOW).disabled


def test_a_key_disabled_in_config_is_not_enabled_by_another_router():
    pool = KeyPool([KeyConfig(name="key_1", key="AIza-one", enabled=False)], cooldown_seconds=60)
    pool.adopt(PoolDelta(enabled=frozenset({pool.keys[0].fingerprint})), NOW)
    assert pool.disabled_reason(0) == "disabled in config"


def test_a_router_never_speaks_for_keys_or_projects_it_does_not_have():
    baseline = state({"gone-key": "401", "kept": "401"}, {("gone-proj", "m"): (NOW + 30, False, "429"), SLOT: (NOW + 30, False, "429")})
    scoped = restrict(baseline, frozenset({"kept"}), frozenset({SLOT[0]}))
    assert scoped == state({"kept": "401"}, {SLOT: (NOW + 30, False, "429")})
    # A pool without "gone-key" and "gone-proj" pushes no re-enable nor lifted cooldown for them.
    assert not delta(scoped, scoped, NOW)


def test_a_pool_speaks_for_its_enabled_keys_and_its_projects():
    pool = KeyPool([*keys(), KeyConfig(name="off", key="AIza-off", enabled=False)], cooldown_seconds=60)
    fingerprints, projects = pool.shared_scope()
    assert fingerprints == {pool.keys[0].fingerprint, pool.keys[1].fingerprint}
    assert projects == {"proj-a", pool.keys[1].project_id, pool.keys[2].project_id}


# -- circuit breakers, shared like cooldowns ---------------------------------------------------


def breakers(**by_key: tuple[int, float, str]) -> SavedState:
    return SavedState({}, {}, {}, dict(by_key))


def test_a_trip_or_a_later_one_is_news_a_breaker_closed_before_its_deadline_too():
    before = breakers(k1=(1, NOW + 5, "timeout"), k2=(2, NOW + 10, "timeout"), k3=(1, NOW - 1, "old"))
    after = breakers(k2=(3, NOW + 20, "connection error (x)"), k4=(1, NOW + 5, "timeout"))
    change = delta(before, after, NOW)
    assert change.tripped == {"k2": (3, NOW + 20, "connection error (x)"), "k4": (1, NOW + 5, "timeout")}
    assert change.closed == {"k1"}  # k3 ran out by itself: no news
    assert apply(before, change, NOW) == live_breakers(after)
    assert not delta(after, breakers(k2=(1, NOW + 15, "timeout")), NOW).tripped  # an earlier deadline is no news


def live_breakers(state: SavedState) -> SavedState:
    return SavedState({}, {}, {}, {k: b for k, b in state.breakers.items() if b[1] > NOW})


def test_after_an_outage_both_sides_keep_every_breaker_at_its_later_deadline():
    a = breakers(k1=(1, NOW + 5, "a"), k2=(2, NOW + 10, "a"))
    b = breakers(k2=(3, NOW + 20, "b"), k3=(1, NOW + 5, "b"))
    assert union(a, b, NOW).breakers == {"k1": (1, NOW + 5, "a"), "k2": (3, NOW + 20, "b"), "k3": (1, NOW + 5, "b")}


def test_a_router_never_closes_the_breaker_of_a_key_it_does_not_have():
    scoped = restrict(breakers(kept=(1, NOW + 5, "t"), gone=(1, NOW + 5, "t")), frozenset({"kept"}), frozenset())
    assert scoped.breakers == {"kept": (1, NOW + 5, "t")}


def test_breakers_travel_in_messages_and_in_redis_values_and_junk_is_refused():
    change = PoolDelta(tripped={"k1": (2, NOW + 10, "timeout")}, closed=frozenset({"k2"}))
    assert decode_delta(encode_delta(change, "router-a")) == ("router-a", change)
    assert decode_breaker(encode_breaker("k1", (2, NOW + 10, "timeout"))) == ("k1", (2, NOW + 10, "timeout"))
    not_a_count = (b'{"key": "k", "failures": 0, "until": 1, "reason": "r"}', b'{"key": "k", "failures": true, "until": 1, "reason": "r"}')
    for junk in (b"", b"[]", *not_a_count):
        assert decode_breaker(junk) is None
    # A message from a router that kept its breakers to itself still reads.
    older = b'{"sender": "r", "disabled": {}, "enabled": [], "cooled": [], "lifted": []}'
    assert decode_delta(older) == ("r", PoolDelta())


def test_a_pool_shares_its_open_breakers_by_digest_and_adopts_others_for_its_own_keys():
    a, b = KeyPool(keys(), cooldown_seconds=60), KeyPool(keys(), cooldown_seconds=60)
    a.report(0, Outcome(Verdict.UNANSWERED, "timeout"), NOW, SLOT[1])
    change = delta(EMPTY, a.saved_state(NOW), NOW)
    assert change.tripped == {a.keys[0].fingerprint: (1, NOW + 5, "timeout")}
    b.adopt(change, NOW)
    assert b.breaker_of(0, NOW + 1) is not None and b.pick(NOW + 1, SLOT[1]) == 1  # passed over on b too
    a.report(0, Outcome(Verdict.OK, "200"), NOW + 2, SLOT[1])  # the key answered on a
    closing = delta(b.saved_state(NOW + 2), a.saved_state(NOW + 2), NOW + 2)
    assert closing.closed == {a.keys[0].fingerprint}
    b.adopt(closing, NOW + 2)
    assert b.breaker_of(0, NOW + 2) is None


def test_breaker_keys_name_the_keys_digest_never_its_value_nor_its_name():
    pool = KeyPool(keys(), cooldown_seconds=60)
    pool.report(0, Outcome(Verdict.UNANSWERED, "timeout"), NOW, SLOT[1])
    name = breaker_key(pool.keys[0].fingerprint)
    text = name + encode_delta(delta(EMPTY, pool.saved_state(NOW), NOW), "r")
    assert name.startswith("hpn:v1:br:") and "AIza-one" not in text and "key_1" not in text
