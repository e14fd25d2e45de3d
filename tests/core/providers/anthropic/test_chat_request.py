"""ChatRequest -> Anthropic body: golden pairs (tests/data/translate/anthropic/), each also checked by the
strict Anthropic emulator's validator (roles, empty text, tool pairing, ranges), plus the rules a golden cannot show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from anthropic_emulator.scenario import Scenario, catalogue, resolve
from anthropic_emulator.validate import ValidationContext, validate_messages
from hpn_router.core.errors import InvalidRequestError
from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.providers.anthropic.chat_request import (
    DEFAULT_MAX_TOKENS,
    anthropic_tool_id,
    chat_request_to_anthropic,
    count_tokens_body,
    ignored_params,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "translate" / "anthropic"
GOLDEN = sorted(p.name.removesuffix(".openai.json") for p in DATA.glob("*.openai.json"))
MODELS = catalogue(Scenario())


def translate(body: dict, model: str = "claude-sonnet-4-5") -> dict:
    return chat_request_to_anthropic(parse_chat_request({"model": model, **body}), model)


def strictly_valid(body: dict, *, count: bool = False) -> None:
    """What Anthropic itself would refuse, as the emulator reproduces it: nothing."""
    error = validate_messages(body, ValidationContext(resolve(MODELS, body["model"]), "strict", count))
    assert error is None, error.message


def test_golden_set_is_complete() -> None:
    assert len(GOLDEN) >= 4
    for name in GOLDEN:
        assert (DATA / f"{name}.anthropic.json").exists(), name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_request(name: str) -> None:
    body = json.loads((DATA / f"{name}.openai.json").read_text(encoding="utf-8"))
    want = json.loads((DATA / f"{name}.anthropic.json").read_text(encoding="utf-8"))
    got = chat_request_to_anthropic(parse_chat_request(body), want["model"])
    assert got == want
    strictly_valid(got)


def test_max_tokens_is_always_sent_and_temperature_clamped() -> None:
    assert translate({"messages": [{"role": "user", "content": "Hi"}]})["max_tokens"] == DEFAULT_MAX_TOKENS
    body = translate({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 12, "temperature": 2})
    assert body["max_tokens"] == 12 and body["temperature"] == 1.0
    assert translate({"messages": [{"role": "user", "content": "Hi"}], "temperature": 0})["temperature"] == 0


def test_parameters_without_an_anthropic_field_are_named_not_sent() -> None:
    request = parse_chat_request(
        {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}], "seed": 1, "logprobs": True, "presence_penalty": 1}
    )
    body = chat_request_to_anthropic(request, "claude-sonnet-4-5")
    assert ignored_params(request) == ["seed", "presence_penalty", "logprobs"]
    assert not {"seed", "logprobs", "presence_penalty"} & body.keys()
    strictly_valid(body)


def test_tool_ids_get_anthropics_shape() -> None:
    assert anthropic_tool_id("toolu_01XyZ-a") == "toolu_01XyZ-a"
    assert anthropic_tool_id("fc_a.b:c") == "fc_a_b_c"


def test_an_empty_assistant_turn_and_reasoning_are_never_sent_empty() -> None:
    body = translate(
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "", "reasoning_content": "thinking about it"},
                {"role": "user", "content": "Again"},
            ]
        }
    )
    assert body["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "(empty)"}]}
    strictly_valid(body)


def test_audio_is_a_400_naming_the_message() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        translate({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]})
    assert caught.value.param == "messages[0].content"


def test_json_object_asks_for_any_object_and_count_tokens_leaves_out_what_it_refuses() -> None:
    request = parse_chat_request(
        {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}], "response_format": {"type": "json_object"}}
    )
    assert chat_request_to_anthropic(request, "claude-sonnet-4-5")["output_config"]["format"]["schema"]["type"] == "object"
    counted = count_tokens_body(request, "claude-sonnet-4-5")
    assert "max_tokens" not in counted and counted["messages"]
    strictly_valid(counted, count=True)
