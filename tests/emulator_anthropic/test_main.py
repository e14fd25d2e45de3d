"""The CLI: one 'listening' line, clean exit on SIGTERM (loopback only: tests/emulator_kit/test_cli.py)."""

from __future__ import annotations

from emulatortools import ROOT, serve_once

DEMO = ROOT / "configs" / "emulator" / "anthropic-test.yaml"
KEY = "sk-ant-api03-TestGoodA-000000000000000000000000000000000000000000-AAAA"


def test_serves_until_sigterm() -> None:
    body = serve_once("anthropic_emulator", DEMO, "/v1/models/claude-sonnet-4-5", {"x-api-key": KEY, "anthropic-version": "2023-06-01"})
    assert body["id"] == "claude-sonnet-4-5-20250929"
