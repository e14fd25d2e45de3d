"""Pool state across restarts and reloads: it follows the key value (by digest), never the
key's name or position, and a state file of any other shape starts the pool fresh."""

from __future__ import annotations

import json

import pytest
from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.keystates import KeyState
from hpn_router.core.poolsnapshot import SnapshotError
from hypothesis import given, settings
from hypothesis import strategies as st

M = "gemini-2.5-flash"
A, B, C = "AIzaSyStateKeyAaaaaaaaaaaaaaaaaaaaaaaaa", "AIzaSyStateKeyBbbbbbbbbbbbbbbbbbbbbbbbb", "AIzaSyStateKeyCcccccccccccccccccccccccc"


def pool(*values: str, projects: tuple[str | None, ...] = ()) -> KeyPool:
    """Keys named by position, as HPN_API_KEYS names them."""
    keys = [KeyConfig(f"key_{i}", v, project=projects[i - 1] if projects else None) for i, v in enumerate(values, start=1)]
    return KeyPool(keys, cooldown_seconds=60)


def used_pool() -> KeyPool:
    """A disabled, B cooling with one request today (keys without a project)."""
    p = pool(A, B)
    p.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), now=0.0, model=M)
    p.report(1, Outcome(Verdict.RATE_LIMITED, "429", retry_after=100), now=0.0, model=M)
    p.record_send(1, 1.0, M)
    return p


def test_a_fresh_key_in_the_old_position_starts_fresh():
    snap = used_pool().snapshot(2.0)
    q = pool(C, B)  # C is key_1 now, where A was
    q.restore(snap, 3.0)
    assert q.state(0, 3.0, M) is KeyState.ACTIVE and q.disabled_reason(0) is None
    assert q.requests_today(0, 3.0) == 0
    assert q.state(1, 3.0, M) is KeyState.COOLING and q.requests_today(1, 3.0) == 1


def test_reordered_keys_keep_their_own_state():
    snap = used_pool().snapshot(2.0)
    q = pool(B, A)
    q.restore(snap, 3.0)
    assert q.state(1, 3.0, M) is KeyState.DISABLED and q.disabled_reason(1) == "400 API key invalid"
    assert q.state(0, 3.0, M) is KeyState.COOLING and q.requests_today(0, 3.0) == 1


def test_a_changed_value_under_the_same_name_starts_fresh():
    snap = used_pool().snapshot(2.0)
    q = pool(C, A.replace("Aaaa", "Zzzz"))
    q.restore(snap, 3.0)
    assert all(q.state(i, 3.0, M) is KeyState.ACTIVE for i in range(2))


def test_project_state_stays_with_the_project_whatever_the_keys():
    p = pool(A, B, projects=("proj-x", "proj-x"))
    p.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=100), now=0.0, model=M)
    q = pool(C, projects=("proj-x",))
    q.restore(p.snapshot(1.0), 2.0)
    assert q.state(0, 2.0, M) is KeyState.COOLING  # quotas belong to the project, not to a key


def test_a_key_without_a_project_has_no_name_based_project():
    keys = [KeyConfig("key_1", A), KeyConfig("key_1", B)]
    assert keys[0].project_id != keys[1].project_id
    assert "key_1" not in keys[0].project_id and keys[0].project_label == "key:key_1"


def test_the_snapshot_holds_digests_never_names_values_or_pieces_of_values():
    text = json.dumps(used_pool().snapshot(2.0))
    assert "key_1" not in text and "key_2" not in text
    for value in (A, B):
        assert all(value[i : i + 8] not in text for i in range(len(value) - 7))


def test_state_of_keys_that_are_gone_is_dropped():
    snap = used_pool().snapshot(2.0)
    q = pool(C)
    q.restore(snap, 3.0)
    assert q.snapshot(3.0) == {"keys": {}, "cooldowns": [], "day_counts": []}


BAD_SNAPSHOTS = [
    [],
    {"keys": []},
    {"keys": {"ab": "disabled"}},
    {"keys": {"ab": {"disabled": 3}}},
    {"cooldowns": {}},
    {"cooldowns": [{"project": "p", "model": M, "until": "x", "daily": False, "reason": ""}]},
    {"cooldowns": [{"project": "p", "model": M, "daily": False, "reason": ""}]},
    {"cooldowns": [{"project": "p", "model": M, "until": True, "daily": False, "reason": ""}]},
    {"cooldowns": [{"project": "p", "model": M, "until": float("nan"), "daily": False, "reason": ""}]},
    {"cooldowns": ["p"]},
    {"day_counts": [{"project": "p", "model": M, "day": "2024-01-01", "requests": "3"}]},
    {"day_counts": [{"project": ["p"], "model": M, "day": "2024-01-01", "requests": 3}]},
    {"day_counts": [{"project": "p", "model": M, "requests": 3}]},
]


@pytest.mark.parametrize("snapshot", BAD_SNAPSHOTS, ids=range(len(BAD_SNAPSHOTS)))
def test_a_snapshot_of_unexpected_shape_is_refused_and_changes_nothing(snapshot):
    p = pool(A, B)
    with pytest.raises(SnapshotError):
        p.restore(snapshot, 3.0)
    assert p.snapshot(3.0) == {"keys": {}, "cooldowns": [], "day_counts": []}


def test_a_partly_bad_snapshot_restores_nothing():
    snap = used_pool().snapshot(2.0)
    snap["day_counts"].append({"project": "p", "model": M, "day": "x", "requests": -1})
    q = pool(A, B)
    with pytest.raises(SnapshotError):
        q.restore(snap, 3.0)
    assert q.state(0, 3.0, M) is KeyState.ACTIVE


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(["keys", "cooldowns", "day_counts", "disabled", "project", "model", "until", "daily", "reason", "day", "requests"])
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "keys": st.dictionaries(st.text(max_size=4), JSON, max_size=3),
        "cooldowns": st.lists(st.dictionaries(FIELDS, JSON, max_size=6), max_size=3),
        "day_counts": st.lists(st.dictionaries(FIELDS, JSON, max_size=6), max_size=3),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, SHAPED))
def test_restore_never_fails_any_other_way_on_any_json(data):
    p = pool(A, B)
    try:
        p.restore(data, 3.0)
    except SnapshotError:
        return
    p.pick(3.0, M)
    json.dumps(p.snapshot(3.0))


def test_numbers_too_large_for_a_float_are_refused():
    snap = {"keys": {}, "cooldowns": [{"project": "p", "model": M, "until": 10**400, "daily": False, "reason": ""}], "day_counts": []}
    with pytest.raises(SnapshotError, match=r"cooldowns\[0\].until"):
        pool(A).restore(snap, 3.0)
