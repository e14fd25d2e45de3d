"""`python -m hpn_router`: the helpers run.sh calls before starting mitmdump."""

from __future__ import annotations

import pytest
from hpn_router.__main__ import main

KEYS = {"HPN_API_KEYS": "AIzaSyMainKey0123456789"}


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ("HPN_CONFIG", "HPN_HOST", "HPN_PORT", "HPN_PROXY_PORT", "HPN_CLIENT_TOKENS", "HPN_PROXY_OPEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  host: 127.0.0.1\n  port: 8123\n  proxy_port: 8124\n  confdir: /tmp/hpn-conf\n")
    return str(config)


def test_check_prints_host_and_port(env, capsys):
    assert main(["check", env]) == 0
    assert capsys.readouterr().out == "127.0.0.1 8123\n"


def test_listeners_prints_both_listeners_and_the_proxy_auth(env, capsys):
    assert main(["listeners", env]) == 0
    assert capsys.readouterr().out == "127.0.0.1 8123 8124 none /tmp/hpn-conf\n"


def test_an_open_proxy_beyond_loopback_is_refused(env, tmp_path, capsys):
    config = tmp_path / "open.yaml"
    config.write_text("server:\n  host: 0.0.0.0\n")
    assert main(["listeners", str(config)]) == 1
    assert capsys.readouterr().err.startswith("hpn-router: invalid configuration: ")


def test_an_invalid_config_exits_1_and_an_unknown_command_2(env, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  port: x\n")
    assert main(["check", str(bad)]) == 1
    assert "server.port" in capsys.readouterr().err
    assert main(["nothing"]) == 2 and main([]) == 2
    assert "Usage:" in capsys.readouterr().err
