"""The Dockerfile and the systemd unit carry their essential lines (no Docker engine or
systemd here to run them), and run.sh starts what the README says."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def test_dockerfile_essentials():
    steps = dockerfile()
    instructions = [i for i, _ in steps]
    args = {i: [a for j, a in steps if j == i] for i in instructions}
    assert steps[0] == ("FROM", "python:3.11-slim")
    env = " ".join(args["ENV"])
    assert "HPN_HOST=0.0.0.0" in env
    assert "HPN_API_KEYS" not in env  # keys come at run time, never from the image
    assert any("./run.sh setup" in a for a in args["RUN"])
    user = args["USER"][-1]
    assert user not in ("root", "0") and instructions.index("USER") > max(i for i, s in enumerate(steps) if s[0] == "RUN")
    assert args["EXPOSE"] == ["8080 8888"]
    assert "/health" in args["HEALTHCHECK"][0]
    assert args["CMD"] == ['["./run.sh"]']
    for source in (a.split()[:-1] for a in args["COPY"]):
        assert all((REPO / s).exists() for s in source), source


def test_dockerignore_keeps_local_configs_and_venvs_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"configs/config.yaml", ".venv", ".git"} <= set(ignored)


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(REPO / "deploy" / "hpn-router.service")
    return parser


def test_systemd_unit_essentials():
    service = unit()["Service"]
    assert service["User"] == "hpn-router"
    assert service["EnvironmentFile"] == "/etc/hpn-router.env"
    assert service["ExecStart"] == "/opt/hpn-router/run.sh"
    env = dict(item.split("=", 1) for item in service["Environment"].split())
    assert env["HPN_VENV"] == "/opt/hpn-router/.venv"
    for setting, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"}.items():
        assert service[setting] == value
    writable = service["ReadWritePaths"].split()
    assert any(env["HPN_CONFDIR"].startswith(path) for path in writable)  # mitmproxy's CA
    assert "/opt/hpn-router/.hpn" in writable  # the pool state file
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_unit_parses(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "verify", str(REPO / "deploy" / "hpn-router.service")], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if "/opt/hpn-router/run.sh" not in line
    ]  # not installed on this machine
    assert complaints == []


def test_run_sh_starts_both_listeners_and_prints_the_proxy_lines():
    script = (REPO / "run.sh").read_text()
    assert '--mode "reverse:https://generativelanguage.googleapis.com@$host:$port"' in script
    assert '--mode "regular@$host:$proxy_port"' in script
    assert '--set "confdir=$confdir"' in script
    for line in ("export HTTPS_PROXY=", "SSL_CERT_FILE=$bundle", "REQUESTS_CA_BUNDLE=$bundle", "NODE_EXTRA_CA_CERTS=$ca"):
        assert line in script
    assert "--web-host 127.0.0.1" in script
