"""Config loading: defaults, environment overrides, and errors that name the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hpn_router.config import ConfigError, load_config, parse_config
from hpn_router.config.load import config_warnings

REPO = Path(__file__).resolve().parents[2]
ONE_KEY = {"key_pool": {"keys": [{"name": "k1", "key": "AIzaSyTestKey1"}]}}


def test_defaults_are_the_seeds_but_local_host():
    config = parse_config(ONE_KEY, {})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.server.read_timeout_seconds == 30
    assert config.key_pool.retry_count == 3 and config.key_pool.cooldown_seconds == 60
    assert config.logging.level == "info" and config.logging.format == "json"
    assert config.gemini.base_url == "https://generativelanguage.googleapis.com"
    assert config.gemini.default_model == "gemini-flash-latest"
    assert config.pricing.default.input_per_million == Decimal("0.50")


def test_example_config_is_valid():
    raw = yaml.safe_load((REPO / "configs" / "config.example.yaml").read_text())
    config = parse_config(raw, {"GEMINI_KEY_1": "AIzaSyFromEnv1", "GEMINI_KEY_2": "AIzaSyFromEnv2"})
    assert [k.name for k in config.key_pool.keys] == ["gemini_key_1", "gemini_key_2"]
    assert config.key_pool.keys[0].key == "AIzaSyFromEnv1"
    server = config.server
    assert (server.max_json_items, server.header_timeout_seconds, server.idle_timeout_seconds) == (500_000, 30, 120)


def test_environment_beats_the_file():
    env = {
        "HPN_API_KEYS": "AIzaA, AIzaB,AIzaC",
        "HPN_HOST": "0.0.0.0",
        "HPN_PORT": "9090",
        "HPN_LOG_LEVEL": "debug",
        "HPN_GEMINI_BASE_URL": "http://127.0.0.1:9999/",
    }
    config = parse_config(ONE_KEY, env)
    assert [(k.name, k.key) for k in config.key_pool.keys] == [("key_1", "AIzaA"), ("key_2", "AIzaB"), ("key_3", "AIzaC")]
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9090)
    assert config.logging.level == "debug"
    assert config.gemini.base_url == "http://127.0.0.1:9999"


def test_hpn_config_names_the_file(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text(yaml.safe_dump({"server": {"port": 7000}, **ONE_KEY}))
    assert load_config(None, {"HPN_CONFIG": str(file)}).server.port == 7000


def test_key_env_reads_the_environment():
    raw = {"key_pool": {"keys": [{"name": "k", "key_env": "MY_KEY"}]}}
    assert parse_config(raw, {"MY_KEY": "AIzaSecret"}).key_pool.keys[0].key == "AIzaSecret"
    with pytest.raises(ConfigError, match=r"key_pool.keys\[0\].key_env: environment variable MY_KEY is not set"):
        parse_config(raw, {})


@pytest.mark.parametrize(
    "raw,message",
    [
        (
            {
                "key_pool": {
                    "keys": [{"name": "a", "key": "x1"}, {"name": "b", "key": "x2"}, {"name": "c", "key": "x3", "enabled": "yes please"}]
                }
            },
            'key_pool.keys[2].enabled: expected true/false, got "yes please"',
        ),
        ({**ONE_KEY, "server": {"port": "eighty"}}, 'server.port: expected an integer, got "eighty"'),
        ({**ONE_KEY, "server": {"port": 70000}}, "server.port: expected an integer between 1 and 65535, got 70000"),
        ({**ONE_KEY, "server": {"prot": 1}}, "server.prot: unknown field"),
        ({**ONE_KEY, "logging": {"format": "xml"}}, 'logging.format: expected one of json, text, got "xml"'),
        ({**ONE_KEY, "key_pool": {**ONE_KEY["key_pool"], "retry_count": -1}}, "key_pool.retry_count: expected an integer"),
        ({**ONE_KEY, "gemini": {"base_url": "ftp://x"}}, "gemini.base_url: expected an http(s) URL"),
        ({"key_pool": {"keys": [{"name": "a"}]}}, "key_pool.keys[0]: give exactly one of key or key_env"),
        ({"key_pool": {"keys": [{"name": "a", "key": "k"}, {"name": "a", "key": "j"}]}}, "duplicate key name"),
        ({**ONE_KEY, "pricing": {"default": {"input_per_million": "lots", "output_per_million": 1}}}, "pricing.default.input_per_million"),
        ({**ONE_KEY, "surprise": 1}, "surprise: unknown field"),
    ],
)
def test_errors_name_the_field(raw, message):
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert message in str(info.value)


def test_no_keys_points_to_the_demo():
    with pytest.raises(ConfigError, match=r"run.sh --demo"):
        parse_config({}, {})


def test_duplicate_key_values_are_rejected_without_showing_them():
    raw = {"key_pool": {"keys": [{"name": "a", "key": "AIzaSame"}, {"name": "b", "key": "AIzaSame"}]}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert "AIzaSame" not in str(info.value)


def test_bad_yaml_does_not_echo_the_file(tmp_path):
    file = tmp_path / "bad.yaml"
    file.write_text("key_pool:\n  keys: [ {key: AIzaSecretValue\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(file), {})
    assert "AIzaSecretValue" not in str(info.value)
    assert "invalid YAML" in str(info.value)


def test_key_repr_hides_the_value():
    config = parse_config(ONE_KEY, {})
    assert "AIzaSyTestKey1" not in repr(config)


def test_pool_limits_and_projects_from_the_environment():
    raw = {"key_pool": {"limits": [{"project": "p1", "model": "gemini-2.5-flash", "rpm": 10, "rpd": 250}, {"project": "p2", "tpm": 1000}]}}
    config = parse_config(raw, {"HPN_API_KEYS": "AIzaA,AIzaB,AIzaC", "HPN_KEY_PROJECTS": "p1,p1,p2"})
    assert [k.project for k in config.key_pool.keys] == ["p1", "p1", "p2"]
    first, second = config.key_pool.limits
    assert (first.project, first.model, first.rpm, first.rpd, first.tpm) == ("p1", "gemini-2.5-flash", 10, 250, None)
    assert (second.model, second.tpm) == ("*", 1000)


def test_key_projects_must_match_the_keys():
    with pytest.raises(ConfigError, match="HPN_KEY_PROJECTS: expected 2 project names"):
        parse_config({}, {"HPN_API_KEYS": "AIzaA,AIzaB", "HPN_KEY_PROJECTS": "p1"})


def test_limits_need_a_number():
    with pytest.raises(ConfigError, match=r"key_pool.limits\[0\]: give at least one of rpm, rpd, tpm"):
        parse_config({**ONE_KEY, "key_pool": {**ONE_KEY["key_pool"], "limits": [{"project": "p"}]}}, {})


def test_client_and_admin_tokens():
    env = {"HPN_CLIENT_TOKENS": "client-token-aaaaaaaaaaaa,client-token-bbbbbbbbbbbb", "HPN_ADMIN_TOKEN": "admin-token-cccccccccccc"}
    config = parse_config(ONE_KEY, env)
    assert config.server.client_tokens == ("client-token-aaaaaaaaaaaa", "client-token-bbbbbbbbbbbb")
    assert config.server.admin_token == "admin-token-cccccccccccc"
    assert "client-token" not in repr(config) and "admin-token" not in repr(config)
    with pytest.raises(ConfigError) as info:
        parse_config({**ONE_KEY, "server": {"client_tokens": ["short"]}}, {})
    assert "server.client_tokens[0]: too short" in str(info.value) and "short'" not in str(info.value)


def test_proxy_listener_confdir_and_mitmweb_cap():
    config = parse_config(ONE_KEY, {})
    assert (config.server.proxy_port, config.server.confdir, config.server.mitmweb_max_flows) == (8888, "~/.mitmproxy", 1000)
    assert config.intercept_hosts == ("api.openai.com", "api.anthropic.com")
    raw = {
        **ONE_KEY,
        "server": {"proxy_port": 9999, "confdir": "/srv/ca", "mitmweb_max_flows": 50},
        "intercept_hosts": ["API.openai.com", "llm.internal.test", "api.openai.com"],
    }
    config = parse_config(raw, {"HPN_PROXY_PORT": "7777", "HPN_CONFDIR": "/var/lib/hpn/ca"})
    assert (config.server.proxy_port, config.server.confdir, config.server.mitmweb_max_flows) == (7777, "/var/lib/hpn/ca", 50)
    assert config.intercept_hosts == ("api.openai.com", "llm.internal.test")


def test_proxy_listener_safety_settings():
    server = parse_config(ONE_KEY, {}).server
    assert (server.passthrough, server.passthrough_private, server.proxy_open) == (True, False, False)
    raw = {**ONE_KEY, "server": {"passthrough": False, "passthrough_private": True, "proxy_open": True}}
    server = parse_config(raw, {}).server
    assert (server.passthrough, server.passthrough_private, server.proxy_open) == (False, True, True)


@pytest.mark.parametrize(
    "raw,env,message",
    [
        ({"server": {"proxy_port": 0}}, {}, "server.proxy_port: expected an integer between 1 and 65535, got 0"),
        ({}, {"HPN_PROXY_PORT": "proxy"}, 'HPN_PROXY_PORT: expected an integer, got "proxy"'),
        ({}, {"HPN_PORT": "8888"}, "server.proxy_port: 8888 is server.port too"),
        ({"server": {"mitmweb_max_flows": 0}}, {}, "server.mitmweb_max_flows: expected an integer >= 1, got 0"),
        ({"server": {"confdir": ""}}, {}, 'server.confdir: expected a non-empty string, got ""'),
        ({"server": {"max_json_items": 10}}, {}, "server.max_json_items: expected an integer >= 100, got 10"),
        ({"server": {"header_timeout_seconds": 0}}, {}, "server.header_timeout_seconds: expected an integer >= 1, got 0"),
        ({"server": {"idle_timeout_seconds": "soon"}}, {}, 'server.idle_timeout_seconds: expected an integer, got "soon"'),
        ({"server": {"proxy_open": "x"}}, {}, 'server.proxy_open: expected true/false, got "x"'),
        ({"server": {"passthrough": "no"}}, {}, 'server.passthrough: expected true/false, got "no"'),
        ({"server": {"passthrough_private": 1}}, {}, "server.passthrough_private: expected true/false, got 1"),
        ({"intercept_hosts": "api.openai.com"}, {}, 'intercept_hosts: expected a list of host names, got "api.openai.com"'),
        ({"intercept_hosts": ["https://api.openai.com/v1"]}, {}, "intercept_hosts[0]: expected a host name such as api.openai.com"),
        ({"intercept_hosts": ["ok.example", "api.openai.com:443"]}, {}, "intercept_hosts[1]: expected a host name"),
    ],
)
def test_proxy_settings_errors_name_the_field(raw, env, message):
    with pytest.raises(ConfigError) as info:
        parse_config({**ONE_KEY, **raw}, env)
    assert message in str(info.value)


def test_listeners_and_trust_commands(tmp_path):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "HPN_API_KEYS": "AIzaK", "HPN_PROXY_PORT": "9001", "HPN_CONFDIR": str(tmp_path / "my ca")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hpn_router", *args], capture_output=True, text=True, cwd=REPO / "addons", env=env, timeout=60
        )

    assert run("listeners").stdout == f"127.0.0.1 8080 9001 none {tmp_path / 'my ca'}\n"
    assert run("check").stdout == "127.0.0.1 8080\n"
    ca, bundle = (Path(p) for p in run("trust").stdout.splitlines())
    assert ca == tmp_path / "my ca" / "mitmproxy-ca-cert.pem" and bundle == tmp_path / "my ca" / "hpn-ca-bundle.pem"
    assert (tmp_path / "my ca" / "mitmproxy-ca.pem").stat().st_mode & 0o077 == 0  # the CA's key is private
    assert bundle.read_text().endswith(ca.read_text()) and bundle.read_text().count("BEGIN CERTIFICATE") > 10
    key_before = (tmp_path / "my ca" / "mitmproxy-ca.pem").read_bytes()
    run("trust")
    assert (tmp_path / "my ca" / "mitmproxy-ca.pem").read_bytes() == key_before  # an existing CA is kept


@pytest.mark.parametrize("where", ["env", "file"])
def test_admin_token_must_differ_from_every_client_token(where):
    token = "shared-token-dddddddddddd"
    env = {"HPN_CLIENT_TOKENS": f"client-token-aaaaaaaaaaaa,{token}"}
    raw = dict(ONE_KEY)
    if where == "env":
        env["HPN_ADMIN_TOKEN"] = token
    else:
        raw["server"] = {"admin_token": token}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, env)
    message = str(info.value)
    assert message.startswith("server.admin_token:") and "client token" in message
    assert token not in message and "dddd" not in message


def test_cors_origins_are_exact_origins_normalised():
    assert parse_config(ONE_KEY, {}).server.cors_origins == ()
    origins = ["https://App.example.com", "http://localhost:3000/", "https://x.test:443", "http://[::1]:5173"]
    raw = {**ONE_KEY, "server": {"cors_origins": origins}}
    config = parse_config(raw, {})
    assert config.server.cors_origins == ("https://app.example.com", "http://localhost:3000", "https://x.test", "http://[::1]:5173")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://app.example.com", r"server.cors_origins: expected a list of origins"),
        (["app.example.com"], r"server.cors_origins\[0\]: expected an origin such as https://app.example.com"),
        (["https://app.example.com/path"], r"server.cors_origins\[0\]: expected an origin"),
        (["null"], r"server.cors_origins\[0\]: expected an origin"),
        (["ftp://x.test"], r"server.cors_origins\[0\]: expected an origin"),
        (["https://*.example.com"], r"server.cors_origins\[0\]: expected an origin"),
        (["*", "https://app.example.com"], r"server.cors_origins: \"\*\" must be the only entry"),
    ],
)
def test_cors_origins_errors(value, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_config({**ONE_KEY, "server": {"cors_origins": value}}, {"HPN_CLIENT_TOKENS": "client-token-aaaaaaaaaaaa"})


def test_cors_any_origin_needs_client_tokens():
    """ "*" lets every web page the user opens call the router: only with client tokens."""
    with pytest.raises(ConfigError, match=r"server.cors_origins: \"\*\" needs server.client_tokens"):
        parse_config({**ONE_KEY, "server": {"cors_origins": ["*"]}}, {})
    config = parse_config({**ONE_KEY, "server": {"cors_origins": ["*"]}}, {"HPN_CLIENT_TOKENS": "client-token-aaaaaaaaaaaa"})
    assert config.server.cors_origins == ("*",)


def test_state_file_from_the_environment_beats_the_file_and_empty_turns_it_off():
    raw = {"key_pool": {"state_file": "/var/lib/hpn/state.json"}}
    assert parse_config(raw, {"HPN_API_KEYS": "AIzaA"}).key_pool.state_file == "/var/lib/hpn/state.json"
    assert parse_config(raw, {"HPN_API_KEYS": "AIzaA", "HPN_STATE_FILE": "/tmp/b.json"}).key_pool.state_file == "/tmp/b.json"
    assert parse_config(raw, {"HPN_API_KEYS": "AIzaA", "HPN_STATE_FILE": ""}).key_pool.state_file == ""
    assert parse_config({}, {"HPN_API_KEYS": "AIzaA"}).key_pool.state_file == ".hpn/state.json"
    with pytest.raises(ConfigError, match="key_pool.state_file: expected a non-empty string, got 3"):
        parse_config({"key_pool": {"state_file": 3}}, {"HPN_API_KEYS": "AIzaA"})


def test_a_key_without_a_project_is_its_own_project_by_value_not_by_name():
    one = parse_config({}, {"HPN_API_KEYS": "AIzaA,AIzaB"}).key_pool.keys
    other = parse_config({}, {"HPN_API_KEYS": "AIzaC,AIzaB"}).key_pool.keys
    assert one[0].project_id != other[0].project_id and one[1].project_id == other[1].project_id
    assert one[0].project_label == other[0].project_label == "key:key_1"


def test_mistral_keys_join_the_pool_from_the_file_or_the_environment():
    raw = {"mistral": {"keys": [{"name": "m", "key": "mistralFileKey"}]}, "models": {"gpt-4o": "mistral/mistral-small-latest"}}
    config = parse_config(raw, {"HPN_API_KEYS": "AIzaA"})
    assert [(k.name, k.provider) for k in config.pool_keys()] == [("key_1", "gemini"), ("m", "mistral")]
    assert config.models["gpt-4o"] == "mistral/mistral-small-latest" and config.has_keys_for("mistral")
    from_env = parse_config({}, {"HPN_MISTRAL_API_KEYS": "mk1, mk2"})
    assert [(k.name, k.key, k.provider) for k in from_env.pool_keys()] == [("mistral_1", "mk1", "mistral"), ("mistral_2", "mk2", "mistral")]
    assert not from_env.has_keys_for("gemini") and from_env.named_keys() == {"mistral_1": "mk1", "mistral_2": "mk2"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"mistral": {"keys": [{"name": "m", "key": "k", "provider": "gemini"}]}},
            "mistral.keys[0].provider: keys under mistral.keys are Mistral keys",
        ),
        ({"models": {"gpt-4o": "openai/gpt-4o"}}, "models.gpt-4o: not a model id"),
        ({"mistral": {"keys": [{"name": "key_1", "key": "k"}]}}, "mistral.keys[0].name: duplicate key name"),
    ],
)
def test_mistral_mistakes_name_their_field(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, {"HPN_API_KEYS": "AIzaA"})
    assert str(caught.value).startswith(message)


def test_anthropic_keys_join_the_pool_with_their_organization_and_are_redacted():
    keys = [{"name": "a", "key": "sk-ant-fileKey", "project": "org-x"}]
    raw = {"anthropic": {"keys": keys}, "models": {"gpt-5": "anthropic/claude-sonnet-4-5"}}
    config = parse_config(raw, {"HPN_API_KEYS": "AIzaA"})
    assert [(k.name, k.provider, k.project) for k in config.pool_keys()] == [("key_1", "gemini", None), ("a", "anthropic", "org-x")]
    assert config.models["gpt-5"] == "anthropic/claude-sonnet-4-5" and config.has_keys_for("anthropic")
    from_env = parse_config({}, {"HPN_ANTHROPIC_API_KEYS": "ak1, ak2", "HPN_ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert [(k.name, k.provider) for k in from_env.pool_keys()] == [("anthropic_1", "anthropic"), ("anthropic_2", "anthropic")]
    assert from_env.named_keys() == {"anthropic_1": "ak1", "anthropic_2": "ak2"} and from_env.anthropic.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"anthropic": {"keys": [{"name": "a", "key": "k", "provider": "mistral"}]}},
            "anthropic.keys[0].provider: keys under anthropic.keys are Anthropic keys",
        ),
        ({"anthropic": {"keys": [{"name": "key_1", "key": "k"}]}}, "anthropic.keys[0].name: duplicate key name"),
        ({"anthropic": {"keys": [{"name": "a", "key": "AIzaA"}]}}, "anthropic.keys[0].key: same key value as an earlier key"),
    ],
)
def test_anthropic_mistakes_name_their_field(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, {"HPN_API_KEYS": "AIzaA"})
    assert str(caught.value).startswith(message)


def test_fallbacks_map_a_model_to_the_models_tried_next():
    config = parse_config({**ONE_KEY, "fallbacks": {"gemini-2.5-flash": ["mistral-small-latest", "gpt-4o"]}}, {})
    assert config.fallbacks == {"gemini-2.5-flash": ("mistral-small-latest", "gpt-4o")}
    assert parse_config(ONE_KEY, {}).fallbacks == {}


MISTRAL_SMALL = "mistral-small-latest"


@pytest.mark.parametrize(
    "fallbacks,message",
    [
        ({"gemini-2.5-flash": "mistral-small-latest"}, 'fallbacks.gemini-2.5-flash: expected a list of model names, got "mistral'),
        ({"gemini-2.5-flash": []}, "fallbacks.gemini-2.5-flash: expected a list of model names, got []"),
        ({"gemini-2.5-flash": ["mistral-small-latest", 3]}, "fallbacks.gemini-2.5-flash[1]: expected a model name, got 3"),
        ({"gemini-2.5-flash": ["a b"]}, 'fallbacks.gemini-2.5-flash[0]: expected a model name, got "a b"'),
        ({"gemini-2.5-flash": ["gemini-2.5-flash"]}, "fallbacks.gemini-2.5-flash[0]: gemini-2.5-flash is tried already"),
        ({"gemini-2.5-flash": [MISTRAL_SMALL, MISTRAL_SMALL]}, f"fallbacks.gemini-2.5-flash[1]: {MISTRAL_SMALL} is tried"),
        (["gemini-2.5-flash"], "fallbacks: expected a mapping"),
    ],
)
def test_fallback_errors_name_the_entry(fallbacks, message):
    with pytest.raises(ConfigError) as info:
        parse_config({**ONE_KEY, "fallbacks": fallbacks}, {})
    assert message in str(info.value)


def test_a_fallback_without_keys_of_its_provider_is_a_warning():
    config = parse_config({**ONE_KEY, "fallbacks": {"gemini-2.5-flash": ["mistral-small-latest", "gemini-2.0-flash"]}}, {})
    assert config_warnings(config) == [
        "fallbacks.gemini-2.5-flash[0]: mistral-small-latest is served by mistral, and the pool has no mistral keys; requests skip it"
    ]
    with_mistral = parse_config({**ONE_KEY, "fallbacks": config.fallbacks}, {"HPN_MISTRAL_API_KEYS": "m-key"})
    assert config_warnings(with_mistral) == []
