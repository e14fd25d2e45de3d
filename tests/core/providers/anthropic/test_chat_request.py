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
from hpn_router.core.model.request import ChatRequest
from hpn_router.core.providers.anthropic.chat_request import (
    DEFAULT_MAX_TOKENS,
    anthropic_tool_id,
    chat_request_to_anthropic,
    count_tokens_body,
    ignored_params,
)
from hpn_router.core.providers.gemini.chat_request import TranslateOptions, chat_request_to_gemini
from hpn_router.core.toolids import SIGNATURE_MARK, THINKING_MARK

DATA = Path(__file__).resolve().parents[3] / "data" / "translate" / "anthropic"
GOLDEN = sorted(p.name.removesuffix(".openai.json") for p in DATA.glob("*.openai.json"))
MODELS = catalogue(Scenario())
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


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
    assert ignored_params(request, "claude-sonnet-4-5") == ["seed", "presence_penalty", "logprobs"]
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


def _thinking_request(**fields: object) -> ChatRequest:
    return parse_chat_request({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}], **fields})


@pytest.mark.parametrize(("effort", "budget"), [("minimal", 1024), ("low", 1024), ("medium", 2048), ("high", 4096), ("xhigh", 8192)])
def test_reasoning_effort_turns_thinking_on_with_its_budget(effort: str, budget: int) -> None:
    request = _thinking_request(reasoning_effort=effort)
    body = chat_request_to_anthropic(request, "claude-sonnet-4-5")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget} and body["max_tokens"] > budget
    assert ignored_params(request, "claude-sonnet-4-5") == []
    strictly_valid(body)


def test_max_tokens_stays_above_the_budget_and_sampling_is_left_out_while_thinking() -> None:
    request = _thinking_request(reasoning_effort="medium", max_tokens=9000, temperature=0.3, top_p=0.99)
    body = chat_request_to_anthropic(request, "claude-sonnet-4-5")
    assert body["max_tokens"] == 9000 and body["top_p"] == 0.99 and "temperature" not in body
    assert ignored_params(request, "claude-sonnet-4-5") == ["temperature"]
    low_top_p = _thinking_request(reasoning_effort="medium", top_p=0.5)
    assert "top_p" not in chat_request_to_anthropic(low_top_p, "claude-sonnet-4-5")
    assert ignored_params(low_top_p, "claude-sonnet-4-5") == ["top_p"]


@pytest.mark.parametrize(
    ("fields", "model"),
    [
        ({"reasoning_effort": "high", "tools": [WEATHER], "tool_choice": "required"}, "claude-sonnet-4-5"),  # Anthropic refuses it
        ({"reasoning_effort": "high"}, "claude-3-5-haiku-latest"),  # cannot think
    ],
)
def test_no_thinking_where_anthropic_would_refuse_it_and_the_client_is_told(fields: dict, model: str) -> None:
    request = _thinking_request(**fields)
    body = chat_request_to_anthropic(request, model)
    assert "thinking" not in body and ignored_params(request, model) == ["reasoning_effort"]
    strictly_valid(body)
    assert "thinking" not in chat_request_to_anthropic(_thinking_request(reasoning_effort="none"), "claude-sonnet-4-5")


def test_thinking_never_crosses_providers_and_a_mangled_suffix_sends_none() -> None:
    golden = json.loads((DATA / "thinking_tool_loop.openai.json").read_text(encoding="utf-8"))
    packed_id = golden["messages"][1]["tool_calls"][0]["id"]
    assert THINKING_MARK in packed_id
    # Gemini: neither the thinking nor the Anthropic id is sent.
    gemini = chat_request_to_gemini(parse_chat_request({**golden, "model": "gemini-2.5-flash"}), "gemini-2.5-flash", TranslateOptions())
    [call_part] = [p for c in gemini["contents"] for p in c["parts"] if "functionCall" in p]
    assert "thoughtSignature" not in call_part and "id" not in call_part["functionCall"]
    # Anthropic: a Gemini signature is not sent, and the id loses it.
    gemini_id = "fc_abc" + SIGNATURE_MARK + "c2ln"
    history = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "tool_calls": [{"id": gemini_id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": gemini_id, "content": "18C"},
    ]
    body = translate({"messages": history, "tools": [WEATHER]})
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "fc_abc", "name": "get_weather", "input": {}}]
    assert body["messages"][2]["content"][0]["tool_use_id"] == "fc_abc"
    # A suffix the client mangled: no thinking block (Anthropic's own 400 then says what is missing).
    mangled = {**golden, "messages": [golden["messages"][0], {**golden["messages"][1], "tool_calls": [
        {**golden["messages"][1]["tool_calls"][0], "id": "toolu_01ThinkingLoop0000000001" + THINKING_MARK + "bm90IGpzb24"}]}]}  # fmt: skip
    assert chat_request_to_anthropic(parse_chat_request(mangled), "claude-sonnet-4-5")["messages"][1]["content"][0]["type"] == "tool_use"
