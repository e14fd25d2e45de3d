"""The config's dataclasses: keys keep their value out of sight, and the declarations of the
pool's keys and limits read the way the README says."""

from __future__ import annotations

import pytest
from hpn_router.config import ConfigError, KeyConfig, RouterConfig, parse_config
from hpn_router.config.fields import declared_fields

ONE_KEY = {"key_pool": {"keys": [{"name": "k1", "key": "AIzaSyTestKey1"}]}}


def test_a_key_shows_its_name_never_its_value():
    key = KeyConfig("k1", "AIzaSyTestKey1")
    assert "AIzaSyTestKey1" not in repr(key) and "k1" in repr(key)
    assert len(key.fingerprint) == 64 and "AIza" not in key.fingerprint
    assert key.project_id == f"key:{key.fingerprint}" and key.project_label == "key:k1"
    assert KeyConfig("k1", "AIzaSyTestKey1", project="p").project_id == "p"


def test_where_a_key_came_from_is_not_part_of_its_identity():
    inline = parse_config(ONE_KEY, {}).key_pool.keys[0]
    from_env = parse_config({"key_pool": {"keys": [{"name": "k1", "key_env": "MY_KEY"}]}}, {"MY_KEY": "AIzaSyTestKey1"}).key_pool.keys[0]
    assert from_env.key_env == "MY_KEY" and from_env == inline


def test_key_projects_go_with_the_keys_variable_only():
    raw = {"key_pool": {"keys": [{"name": "k1", "key": "AIzaSyTestKey1", "project": "from-file"}]}}
    assert parse_config(raw, {"HPN_KEY_PROJECTS": "p1"}).key_pool.keys[0].project == "from-file"
    keys = parse_config(raw, {"HPN_API_KEYS": "AIzaA,AIzaB", "HPN_KEY_PROJECTS": "p1,"}).key_pool.keys
    assert [(k.name, k.project) for k in keys] == [("key_1", "p1"), ("key_2", None)]


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ({"project": "p", "rpm": 0}, r"key_pool.limits\[0\].rpm: expected an integer >= 1, got 0"),
        ({"rpm": 1}, r"key_pool.limits\[0\].project: required"),
        ({"project": "p", "model": "models/a:b", "rpm": 1}, r"key_pool.limits\[0\].model: not a model id"),
        ({"project": "p", "rpm": None}, r"key_pool.limits\[0\]: give at least one of rpm, rpd, tpm"),
    ],
)
def test_limits_are_read_field_by_field(limit, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({**ONE_KEY, "key_pool": {**ONE_KEY["key_pool"], "limits": [limit]}}, {})


def test_the_defaults_are_the_declared_ones():
    config = parse_config(ONE_KEY, {})
    for declared in declared_fields(RouterConfig):
        if declared.attrs is not None and declared.path != "key_pool.keys":
            assert declared.value_in(config) == declared.default, declared.path


def test_every_environment_variable_overrides_its_field():
    env = {
        "HPN_HOST": "0.0.0.0",
        "HPN_PORT": "9000",
        "HPN_CLIENT_TOKENS": "client-token-aaaaaaaaaaaa",
        "HPN_ADMIN_TOKEN": "admin-token-bbbbbbbbbbbb",
        "HPN_PROXY_PORT": "9001",
        "HPN_CONFDIR": "/srv/ca",
        "HPN_API_KEYS": "AIzaA",
        "HPN_KEY_PROJECTS": "p1",
        "HPN_STATE_FILE": "/srv/state.json",
        "HPN_LOG_LEVEL": "error",
        "HPN_GEMINI_BASE_URL": "http://127.0.0.1:1",
        "HPN_WEBHOOK_URL": "https://hooks.example/hpn",
        "HPN_WEBHOOK_SECRET": "webhook-secret-cccccccc",
        "HPN_MISTRAL_BASE_URL": "http://127.0.0.1:2",
        "HPN_MISTRAL_API_KEYS": "mistralKeyOne",
        "HPN_ANTHROPIC_BASE_URL": "http://127.0.0.1:3",
        "HPN_ANTHROPIC_API_KEYS": "sk-ant-keyOne",
        "HPN_WORKERS": "2",
        "HPN_REDIS_URL": "rediss://:secret@redis.internal:6380/2",
    }
    config = parse_config({}, env)
    declared = [d for d in declared_fields(RouterConfig) if d.setting.env]
    assert sorted(d.setting.env for d in declared if d.setting.env) == sorted(env)
    overridden = {d.path for d in declared if d.attrs is not None and d.value_in(config) != d.default}
    assert overridden == {d.path for d in declared if d.attrs is not None}
    assert config.key_pool.keys[0].project == "p1"  # item fields with a variable, given with their list's
    assert config.webhooks[0].secret == "webhook-secret-cccccccc"


def test_several_workers_need_a_redis_url_naming_both_fields():
    with pytest.raises(ConfigError, match=r"server\.workers: 2 workers need state\.redis_url \(HPN_REDIS_URL\)"):
        parse_config({**ONE_KEY, "server": {"workers": 2}}, {})
    config = parse_config({**ONE_KEY, "server": {"workers": 2}}, {"HPN_REDIS_URL": "rediss://:pw@redis.internal:6380/1"})
    assert (config.server.workers, config.state.redis_url) == (2, "rediss://:pw@redis.internal:6380/1")


@pytest.mark.parametrize("url", ["http://:secretpw@redis:6379", "redis://", "secretpw@127.0.0.1:6379"])
def test_a_redis_url_needs_the_redis_scheme_and_a_host_and_is_never_shown(url):
    with pytest.raises(ConfigError, match=r"state\.redis_url: expected a redis:// or rediss:// URL") as raised:
        parse_config({**ONE_KEY, "state": {"redis_url": url}}, {})
    assert "secretpw" not in str(raised.value)
    assert "pw" not in repr(parse_config({**ONE_KEY, "state": {"redis_url": "redis://:pw@h:1"}}, {}).state)
