"""The runtime state every emulator shares: behaviours, scripts, the request log."""

from __future__ import annotations

import pytest
from anthropic_emulator.scenario import parse_scenario as parse_anthropic
from anthropic_emulator.server import Emulator as AnthropicEmulator
from emulator_kit.server import ScriptedEmulator
from gemini_emulator.scenario import parse_scenario
from gemini_emulator.server import Emulator as GeminiEmulator
from mistral_emulator.scenario import parse_scenario as parse_mistral
from mistral_emulator.server import Emulator as MistralEmulator

KEYS = {"keys": [{"key": "k0", "script": ["rate_limit", "ok"]}, {"key": "k1", "behaviour": "invalid"}]}


def make_gemini() -> ScriptedEmulator:
    return GeminiEmulator(parse_scenario(KEYS), lambda: 0.0)


def test_a_call_consumes_the_script_then_the_behaviour_applies() -> None:
    emu = make_gemini()
    assert [emu.next_behaviour(0, call=True) for _ in range(3)] == ["rate_limit", "ok", "ok"]


def test_a_request_that_is_no_call_notices_only_what_is_wrong_with_the_key() -> None:
    emu = make_gemini()
    assert emu.next_behaviour(0, call=False) == "ok" and emu.keys[0].script  # the script is kept for calls
    assert emu.next_behaviour(1, call=False) == "invalid"


def test_reset_restores_scripts_and_empties_the_log() -> None:
    emu = make_gemini()
    emu.next_behaviour(0, call=True)
    emu.log.append({"key_index": 0})
    emu.log.append({"key_index": 0})
    assert emu.stats() == {"requests": [{"key_index": 0}] * 2, "by_key": {"0": 2}}
    emu.reset()
    assert list(emu.keys[0].script) == ["rate_limit", "ok"] and emu.stats() == {"requests": [], "by_key": {}}


@pytest.mark.parametrize(
    ("emulator", "parse", "behaviour"),
    [(MistralEmulator, parse_mistral, "unauthorized"), (AnthropicEmulator, parse_anthropic, "invalid")],
)
def test_each_emulator_names_its_own_key_behaviours(emulator: type[ScriptedEmulator], parse: object, behaviour: str) -> None:
    emu = emulator(parse({"keys": [{"key": "k0", "behaviour": behaviour}, {"key": "k1", "behaviour": "rate_limit"}]}), lambda: 0.0)  # type: ignore[operator]
    assert emu.next_behaviour(0, call=False) == behaviour and emu.next_behaviour(1, call=False) == "ok"
