"""The CLI: one 'listening' line, loopback only, clean exit on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from anthropic_emulator.__main__ import parse_args

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "emulator" / "anthropic-test.yaml"
KEY = "sk-ant-api03-TestGoodA-000000000000000000000000000000000000000000-AAAA"


def test_serves_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "emulators")}
    command = [sys.executable, "-m", "anthropic_emulator", "--port", "0", "--scenario", str(DEMO), "--quiet"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"anthropic-emulator listening on http://127\.0\.0\.1:(\d+)\n", line)
            assert match, line
            request = urllib.request.Request(
                f"http://127.0.0.1:{match[1]}/v1/models/claude-sonnet-4-5",
                headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert json.load(response)["id"] == "claude-sonnet-4-5-20250929"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
            assert process.stdout.read() == ""  # exactly one line on stdout
        finally:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--scenario", str(DEMO), "--host", host])


def test_accepts_loopback_hosts() -> None:
    assert parse_args(["--scenario", str(DEMO), "--host", "localhost"]).host == "127.0.0.1"
    assert parse_args(["--scenario", str(DEMO), "--host", "127.0.0.2"]).host == "127.0.0.2"
