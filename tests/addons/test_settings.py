"""Settings: loads the config named by the `hpn_config` option, hands it to every consumer,
reloads it on demand, and keeps the previous config when a new one is invalid."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hpn_router.addons.settings import Settings
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons


class Consumer:
    def __init__(self) -> None:
        self.configs: list[Any] = []

    def apply(self, config: Any) -> None:
        self.configs.append(config)


def write(path: Path, *names: str, max_body_bytes: int = 1_000_000) -> str:
    keys = "".join(f"    - {{name: {name}, key: AIzaSySettingsKey{name}}}\n" for name in names)
    path.write_text(f"server:\n  max_body_bytes: {max_body_bytes}\nkey_pool:\n  state_file: ''\n  keys:\n{keys}")
    return str(path)


def key_names(config: Any) -> list[str]:
    return [key.name for key in config.key_pool.keys]


@pytest.fixture
def consumers() -> list[Consumer]:
    return [Consumer(), Consumer()]


def test_the_config_named_by_the_option_reaches_every_consumer(tmp_path, consumers):
    settings = Settings(consumers, env=dict)
    with taddons.context(Proxyserver(), settings) as tctx:  # Proxyserver declares body_size_limit
        tctx.configure(settings, hpn_config=write(tmp_path / "config.yaml", "alpha", max_body_bytes=2048))
        assert [key_names(c.configs[-1]) for c in consumers] == [["alpha"], ["alpha"]]
        assert settings.config is consumers[0].configs[-1]
        assert tctx.options.body_size_limit == "2048"  # mitmproxy stops reading larger bodies itself


def test_the_environment_configures_the_router_too(tmp_path, consumers):
    settings = Settings(consumers, env=lambda: {"HPN_API_KEYS": "AIzaSyFromTheEnvironment1,AIzaSyFromTheEnvironment2"})
    with taddons.context(settings) as tctx:
        tctx.configure(settings, hpn_config=write(tmp_path / "config.yaml", "alpha"))
        assert len(consumers[0].configs[-1].key_pool.keys) == 2  # HPN_API_KEYS overrides the file's keys


def test_reload_hands_out_the_changed_file(tmp_path, consumers):
    settings = Settings(consumers, env=dict)
    path = tmp_path / "config.yaml"
    with taddons.context(settings) as tctx:
        tctx.configure(settings, hpn_config=write(path, "alpha"))
        write(path, "alpha", "beta")
        assert settings.reload(trigger="admin_api", by="127.0.0.1:5000") is None
    assert [key_names(c) for c in consumers[0].configs] == [["alpha"], ["alpha", "beta"]]


def test_an_invalid_config_is_refused_and_the_previous_one_stays(tmp_path, consumers):
    settings = Settings(consumers, env=dict)
    path = tmp_path / "config.yaml"
    with taddons.context(settings) as tctx:
        tctx.configure(settings, hpn_config=write(path, "alpha"))
        previous = settings.config
        path.write_text("server:\n  port: seventy\nkey_pool:\n  keys: [{name: a, key: AIzaSyX}]\n")
        error = settings.reload(trigger="sighup")
        assert error is not None and "server.port" in error
        assert settings.config is previous and all(len(c.configs) == 1 for c in consumers)
        path.unlink()
        assert "not found" in (settings.reload(trigger="sighup") or "")
        assert settings.config is previous


def test_an_invalid_config_at_start_up_is_an_error_mitmproxy_sees(tmp_path, consumers, caplog):
    """mitmdump exits non-zero on an error logged through stdlib logging during start-up."""
    settings = Settings(consumers, env=dict)
    path = tmp_path / "config.yaml"
    path.write_text("key_pool:\n  keys: []\n  state_file: ''\n")
    with caplog.at_level(logging.ERROR, logger="hpn.settings"), taddons.context(settings) as tctx:
        tctx.configure(settings, hpn_config=str(path))
    assert settings.config is None and consumers[0].configs == []
    [record] = [r for r in caplog.records if r.name == "hpn.settings"]
    assert record.levelno == logging.ERROR and "key_pool.keys" in record.getMessage()


def test_running_makes_mitmproxy_connect_lazily(tmp_path, consumers):
    """The router answers everything itself: no connection to the reverse target per client."""
    settings = Settings(consumers, env=dict)
    with taddons.context(Proxyserver(), settings) as tctx:
        tctx.options.update(connection_strategy="eager")
        settings.running()
        assert tctx.options.connection_strategy == "lazy"
