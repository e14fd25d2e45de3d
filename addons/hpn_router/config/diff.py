"""What a config reload changed, by name only, for the reload's log line.

Keys are compared by name (added, removed, or changed: another value, project, provider or
enabled flag); every other setting by its declared field path (`cache.ttl_seconds`). Values
never appear: a key, a token, even a model mapping stay out of the log.

Usage:
    changes = config_changes(old_config, new_config)
    # {"keys_added": ["key_4"], "keys_removed": [], "keys_changed": ["key_2"], "settings_changed": ["cache.ttl_seconds"]}
"""

from __future__ import annotations

from hpn_router.config.fields import Declared, declared_fields
from hpn_router.config.model import RouterConfig

KEYS_FIELDS = ("key_pool.keys", "mistral.keys", "anthropic.keys")

# The settings a reload compares: every declared field of the config itself (a list's items
# are compared as the whole list), but the keys, which are compared by name.
_SETTINGS: tuple[Declared, ...] = tuple(d for d in declared_fields(RouterConfig) if d.attrs is not None and d.path not in KEYS_FIELDS)


def config_changes(old: RouterConfig, new: RouterConfig) -> dict[str, list[str]]:
    old_keys = {k.name: k for k in old.pool_keys()}
    new_keys = {k.name: k for k in new.pool_keys()}
    return {
        "keys_added": sorted(new_keys.keys() - old_keys.keys()),
        "keys_removed": sorted(old_keys.keys() - new_keys.keys()),
        "keys_changed": sorted(name for name in old_keys.keys() & new_keys.keys() if old_keys[name] != new_keys[name]),
        "settings_changed": sorted(d.path for d in _SETTINGS if d.value_in(old) != d.value_in(new)),
    }
