"""What every emulator's command-line test checks alike: it serves one scenario until SIGTERM,
printing exactly one `<name> listening on http://127.0.0.1:PORT` line, and refuses hosts that
are not loopback.

Usage:
    client = await started_client(make_app(SCENARIO, clock=Clock(NOW)))   # tests/emulator_*/test_server.py
    def test_serves_until_sigterm() -> None:
        body = serve_once("gemini_emulator", DEMO, "/v1beta/models/gemini-2.5-flash", {"x-goog-api-key": KEY})
        assert body["name"] == "models/gemini-2.5-flash"
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """The time an emulator reads: set `now` to move it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def started_client(app: web.Application) -> TestClient:
    """A started aiohttp test client on `app`, on 127.0.0.1; the caller closes it."""
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


def serve_once(package: str, scenario: Path, path: str, headers: dict[str, str]) -> Any:
    """Start `python -m <package>` on a free port, GET `path` once, stop it with SIGTERM: the JSON
    answered. Asserts the one banner line, the clean exit and the silent stdout after it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "emulators")}
    command = [sys.executable, "-m", package, "--port", "0", "--scenario", str(scenario), "--quiet"]
    name = package.replace("_", "-")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(rf"{name} listening on http://127\.0\.0\.1:(\d+)\n", line)
            assert match, line
            request = urllib.request.Request(f"http://127.0.0.1:{match[1]}{path}", headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                body = json.load(response)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
            assert process.stdout.read() == ""  # exactly one line on stdout
            return body
        finally:
            if process.poll() is None:
                process.kill()
