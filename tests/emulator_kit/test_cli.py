"""The command line every emulator shares: loopback addresses only (checked once for all three)."""

from __future__ import annotations

import pytest
from anthropic_emulator.__main__ import EMULATOR as ANTHROPIC
from emulator_kit.cli import Emulator, parse_args
from gemini_emulator.__main__ import EMULATOR as GEMINI
from mistral_emulator.__main__ import EMULATOR as MISTRAL

EMULATORS = [GEMINI, MISTRAL, ANTHROPIC]


@pytest.mark.parametrize("emulator", EMULATORS, ids=lambda e: e.name)
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_refuses_non_loopback_hosts(emulator: Emulator, host: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(emulator, ["--scenario", "any.yaml", "--host", host])


@pytest.mark.parametrize("emulator", EMULATORS, ids=lambda e: e.name)
@pytest.mark.parametrize(("host", "served"), [("localhost", "127.0.0.1"), ("127.0.0.2", "127.0.0.2"), ("::1", "::1")])
def test_accepts_loopback_hosts(emulator: Emulator, host: str, served: str) -> None:
    assert parse_args(emulator, ["--scenario", "any.yaml", "--host", host]).host == served


@pytest.mark.parametrize("emulator", EMULATORS, ids=lambda e: e.name)
def test_the_port_defaults_to_a_free_one(emulator: Emulator) -> None:
    assert parse_args(emulator, ["--scenario", "any.yaml"]).port == 0
