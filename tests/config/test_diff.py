"""What a reload changed, by name only: never a key, token or other value."""

from __future__ import annotations

from hpn_router.config import parse_config
from hpn_router.config.diff import config_changes

KEY_A, KEY_B, KEY_B2, KEY_C = (f"AIzaSyDiffTestKey{i}0000000000000000000000" for i in "ABDC")


def config(keys: dict[str, str], **sections: object):
    raw = {"key_pool": {"keys": [{"name": n, "key": k} for n, k in keys.items()]}, **sections}
    return parse_config(raw, {})


def test_keys_added_removed_and_changed_by_name() -> None:
    old = config({"a": KEY_A, "b": KEY_B})
    new = config({"b": KEY_B2, "c": KEY_C})
    changes = config_changes(old, new)
    assert changes == {"keys_added": ["c"], "keys_removed": ["a"], "keys_changed": ["b"], "settings_changed": []}


def test_settings_changed_by_field_name_never_by_value() -> None:
    old = config({"a": KEY_A}, server={"admin_token": "admin-token-old-0000000"}, cache={"ttl_seconds": 60})
    new = config({"a": KEY_A}, server={"admin_token": "admin-token-new-1111111"}, cache={"ttl_seconds": 90}, models={"x": "gemini-2.5-pro"})
    changes = config_changes(old, new)
    assert changes["settings_changed"] == ["cache.ttl_seconds", "models", "server.admin_token"]
    assert changes["keys_added"] == changes["keys_removed"] == changes["keys_changed"] == []
    assert "admin-token" not in repr(changes) and "60" not in repr(changes) and "gemini-2.5-pro" not in repr(changes)


def test_a_key_moved_to_another_project_or_disabled_is_changed() -> None:
    old = parse_config({"key_pool": {"keys": [{"name": "a", "key": KEY_A}, {"name": "b", "key": KEY_B}]}}, {})
    keys = [{"name": "a", "key": KEY_A, "project": "p"}, {"name": "b", "key": KEY_B, "enabled": False}]
    new = parse_config({"key_pool": {"keys": keys}}, {})
    assert config_changes(old, new)["keys_changed"] == ["a", "b"]


def test_nothing_changed() -> None:
    assert config_changes(config({"a": KEY_A}), config({"a": KEY_A})) == {
        "keys_added": [],
        "keys_removed": [],
        "keys_changed": [],
        "settings_changed": [],
    }
