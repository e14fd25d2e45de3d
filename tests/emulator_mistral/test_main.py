"""The CLI: one 'listening' line, clean exit on SIGTERM (loopback only: tests/emulator_kit/test_cli.py)."""

from __future__ import annotations

from emulatortools import ROOT, serve_once

DEMO = ROOT / "configs" / "emulator" / "mistral-demo.yaml"
KEY = "emuMistralDemoKeyNumberOne000001"


def test_serves_until_sigterm() -> None:
    body = serve_once("mistral_emulator", DEMO, "/v1/models/mistral-small-latest", {"Authorization": f"Bearer {KEY}"})
    assert body["id"] == "mistral-small-latest"
