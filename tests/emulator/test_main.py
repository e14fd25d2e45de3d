"""The CLI: one 'listening' line, clean exit on SIGTERM (loopback only: tests/emulator_kit/test_cli.py)."""

from __future__ import annotations

from emulatortools import ROOT, serve_once

DEMO = ROOT / "configs" / "emulator" / "demo.yaml"
KEY = "AIzaSyDemoKeyNumberOne00000000000000001"


def test_serves_until_sigterm() -> None:
    body = serve_once("gemini_emulator", DEMO, "/v1beta/models/gemini-2.5-flash", {"x-goog-api-key": KEY})
    assert body["name"] == "models/gemini-2.5-flash"
