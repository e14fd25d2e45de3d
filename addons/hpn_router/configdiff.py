"""What a config reload changed, by name only, for the reload's log line.

Keys are compared by name (added, removed, or changed: another value, project, provider or
enabled flag); every other setting by its dotted field path (`cache.ttl_seconds`). Values
never appear: a key, a token, even a model mapping stay out of the log.

Usage:
    changes = config_changes(old_config, new_config)
    # {"keys_added": ["key_4"], "keys_removed": [], "keys_changed": ["key_2"], "settings_changed": ["cache.ttl_seconds"]}
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from hpn_router.config import RouterConfig

KEYS_FIELD = "key_pool.keys"


def config_changes(old: RouterConfig, new: RouterConfig) -> dict[str, list[str]]:
    old_keys = {k.name: k for k in old.key_pool.keys}
    new_keys = {k.name: k for k in new.key_pool.keys}
    return {
        "keys_added": sorted(new_keys.keys() - old_keys.keys()),
        "keys_removed": sorted(old_keys.keys() - new_keys.keys()),
        "keys_changed": sorted(name for name in old_keys.keys() & new_keys.keys() if old_keys[name] != new_keys[name]),
        "settings_changed": sorted(_changed_fields(old, new, "")),
    }


def _changed_fields(old: Any, new: Any, prefix: str) -> list[str]:
    changed = []
    for f in fields(old):
        path = f"{prefix}{f.name}"
        before, after = getattr(old, f.name), getattr(new, f.name)
        if path == KEYS_FIELD or before == after:
            continue
        if is_dataclass(before) and is_dataclass(after) and not isinstance(before, type):
            changed += _changed_fields(before, after, f"{path}.")
        else:
            changed.append(path)
    return changed
