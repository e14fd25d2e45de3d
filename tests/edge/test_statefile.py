"""The state file: one version, written whole, owned by one router at a time."""

from __future__ import annotations

import json

import pytest
from hpn_router.edge.statefile import VERSION, StateFileInUse, StateLock, load_state, save_state


def test_state_of_another_version_or_shape_is_ignored(tmp_path):
    path = tmp_path / "state.json"
    for content in ({"version": 1, "disabled": {"key_1": "x"}}, [1, 2], {"keys": {}}):
        path.write_text(json.dumps(content))
        assert load_state(str(path)) == {}
    save_state(str(path), {"keys": {}})
    assert load_state(str(path)) == {"version": VERSION, "keys": {}}


def test_one_state_file_has_one_owner_until_it_lets_go(tmp_path):
    path = str(tmp_path / "sub" / "state.json")
    first = StateLock.acquire(path)
    with pytest.raises(StateFileInUse, match=r"in use by another router \(process \d+\).*HPN_STATE_FILE"):
        StateLock.acquire(path)
    first.release()
    StateLock.acquire(path).release()
