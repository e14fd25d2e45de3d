"""Load the router's configuration: read the YAML file (if any), apply the environment
(environment beats the file), check the rules that span fields, and return a frozen
`RouterConfig`. Every problem raises `ConfigError` with a path-qualified message such as
`key_pool.keys[2].enabled: expected true/false, got "yes please"`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from hpn_router.config.fields import read_section
from hpn_router.config.model import RouterConfig
from hpn_router.config.readers import ConfigError, show
from hpn_router.core.model.routing import Provider, route_model

NO_KEYS_HINT = (
    "key_pool.keys: no API keys configured. Set HPN_API_KEYS=key1,key2 or add keys to the "
    "config file; to try the router without a key, run ./run.sh --demo"
)


def _admin_token_is_its_own(config: RouterConfig) -> None:
    server = config.server
    if server.admin_token is not None and server.admin_token in server.client_tokens:
        # Every client could use the admin API; the message never shows the token.
        raise ConfigError(
            "server.admin_token: the same value as a client token (server.client_tokens); give the admin API a token of its own"
        )


def _any_origin_needs_client_tokens(config: RouterConfig) -> None:
    if config.server.cors_origins == ("*",) and not config.server.client_tokens:
        # Without tokens, any web page the user happens to open could spend the pool's keys
        # through the user's browser and read the answers.
        raise ConfigError('server.cors_origins: "*" needs server.client_tokens; without them, list the exact origins instead')


def _listeners_differ(config: RouterConfig) -> None:
    port = config.server.port
    if config.server.proxy_port == port:
        raise ConfigError(f"server.proxy_port: {port} is server.port too; give the proxy listener another port (HPN_PROXY_PORT)")


def _workers_share_state(config: RouterConfig) -> None:
    # Each worker would otherwise keep its own cooldowns, quotas and cache: one pool, N views.
    if config.server.workers > 1 and not config.state.redis_url:
        raise ConfigError(
            f"server.workers: {config.server.workers} workers need state.redis_url (HPN_REDIS_URL) to share the pool's state; "
            "set it, or run one worker"
        )


def _keys_unique_and_one_enabled(config: RouterConfig) -> None:
    seen_names: set[str] = set()
    seen_values: set[str] = set()
    sections = [("key_pool.keys", config.key_pool.keys), ("mistral.keys", config.mistral.keys), ("anthropic.keys", config.anthropic.keys)]
    for where, k in ((f"{section}[{i}]", k) for section, keys in sections for i, k in enumerate(keys)):
        if k.name in seen_names:
            raise ConfigError(f"{where}.name: duplicate key name {show(k.name)}")
        if k.key in seen_values:  # the message never shows the value itself
            raise ConfigError(f"{where}.key: same key value as an earlier key")
        seen_names.add(k.name)
        seen_values.add(k.key)
    if not any(k.enabled for k in config.pool_keys()):
        raise ConfigError(NO_KEYS_HINT)


def _charged_providers_exist(config: RouterConfig) -> None:
    for name in config.pricing.charged:
        if name not in set(Provider):
            raise ConfigError(f"pricing.charged.{name}: not a provider; expected one of {', '.join(Provider)}")


# The rules that span fields, checked in this order after every field has been read.
CROSS_FIELD_RULES: tuple[Callable[[RouterConfig], None], ...] = (
    _admin_token_is_its_own,
    _any_origin_needs_client_tokens,
    _listeners_differ,
    _workers_share_state,
    _keys_unique_and_one_enabled,
    _charged_providers_exist,
)


def config_warnings(config: RouterConfig) -> list[str]:
    """What is allowed but will not work as the operator may expect: logged at each load."""
    warnings = []
    for model, targets in config.fallbacks.items():
        for i, name in enumerate(targets):
            provider = route_model(name, config.models, config.gemini.default_model).provider
            if not config.has_keys_for(provider):
                warnings.append(
                    f"fallbacks.{model}[{i}]: {name} is served by {provider}, and the pool has no {provider} keys; requests skip it"
                )
    return warnings


def parse_config(raw: Any, env: Mapping[str, str]) -> RouterConfig:
    """Validate a parsed YAML document (plus environment overrides) into a RouterConfig."""
    config = read_section(RouterConfig, raw, "", env)
    for rule in CROSS_FIELD_RULES:
        rule(config)
    return config


def load_config(path: str | None, env: Mapping[str, str]) -> RouterConfig:
    """Load `path` (or `HPN_CONFIG`, or no file at all) and apply the environment."""
    path = env.get("HPN_CONFIG") or path
    raw: Any = {}
    if path:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {path}: not found")
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            # The YAML parser's message quotes the offending line, which could hold a key.
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {path}: invalid YAML{where}") from None
    return parse_config(raw, env)
