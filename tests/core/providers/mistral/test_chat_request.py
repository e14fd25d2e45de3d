"""ChatRequest -> Mistral body: golden pairs (tests/data/translate/mistral/), each also checked by the
strict Mistral emulator's validator (extra fields, tool ids, role order), plus the rules a golden cannot show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hpn_router.core.errors import InvalidRequestError
from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.providers.mistral.chat_request import BRIDGE_TEXT, chat_request_to_mistral, ignored_params, mistral_tool_id
from mistral_emulator.validate import chat_rule_error, chat_schema_problems

DATA = Path(__file__).resolve().parents[3] / "data" / "translate" / "mistral"
GOLDEN = sorted(p.name.removesuffix(".openai.json") for p in DATA.glob("*.openai.json"))


def translate(body: dict, model: str = "mistral-small-latest") -> dict:
    return chat_request_to_mistral(parse_chat_request({"model": model, **body}), model)


def strictly_valid(body: dict) -> None:
    """What Mistral itself would refuse, as the emulator reproduces it: nothing."""
    assert chat_schema_problems(body) == []
    assert chat_rule_error(body["messages"]) is None


def call(call_id: str, name: str = "get_weather") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": '{"city":"Paris"}'}}


def test_golden_set_is_complete() -> None:
    assert len(GOLDEN) >= 4
    for name in GOLDEN:
        assert (DATA / f"{name}.mistral.json").exists(), name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_request(name: str) -> None:
    body = json.loads((DATA / f"{name}.openai.json").read_text(encoding="utf-8"))
    want = json.loads((DATA / f"{name}.mistral.json").read_text(encoding="utf-8"))
    got = chat_request_to_mistral(parse_chat_request(body), want["model"])
    assert got == want
    strictly_valid(got)


def test_only_fields_mistral_accepts_leave() -> None:
    body = translate(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "seed": 3,
            "max_completion_tokens": 9,
            "logprobs": True,
            "top_logprobs": 2,
            "user": "end-user",
            "reasoning_effort": "low",
            "stream_options": {"include_usage": True},
            "stream": True,
        }
    )
    assert body["random_seed"] == 3 and body["max_tokens"] == 9
    assert not {"seed", "max_completion_tokens", "logprobs", "top_logprobs", "user", "stream_options", "reasoning_effort"} & body.keys()
    named = ignored_params(
        parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "logprobs": True, "top_logprobs": 2})
    )
    assert named == ["logprobs", "top_logprobs"]
    strictly_valid(body)


@pytest.mark.parametrize("client_id", ["call_abc", "toolu_01A09q90qw90lq917835lq9", "fc_x__thought__c2ln", "a", "123456789012"])
def test_every_tool_id_becomes_nine_letters_or_digits_and_the_same_each_time(client_id: str) -> None:
    first = mistral_tool_id(client_id)
    assert len(first) == 9 and first.isalnum() and first.isascii()
    assert mistral_tool_id(client_id) == first


def test_a_mistral_id_is_kept_and_different_ids_stay_different() -> None:
    assert mistral_tool_id("Xy7Pq2Lm9") == "Xy7Pq2Lm9"
    assert len({mistral_tool_id(f"call_{i}") for i in range(1000)}) == 1000


def test_a_call_and_its_result_agree_and_a_user_after_a_tool_gets_a_bridge() -> None:
    body = translate(
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "tool_calls": [call("call_1")]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "user", "content": "And now?"},
            ]
        }
    )
    calls, result = body["messages"][1]["tool_calls"], body["messages"][2]
    assert calls[0]["id"] == result["tool_call_id"] == mistral_tool_id("call_1")
    assert body["messages"][3] == {"role": "assistant", "content": BRIDGE_TEXT}
    strictly_valid(body)


def test_legacy_function_results_answer_the_latest_call_of_their_name() -> None:
    body = translate(
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{}"}},
                {"role": "function", "name": "get_weather", "content": "18C"},
            ],
            "functions": [{"name": "get_weather", "parameters": {"type": "object", "properties": {}}}],
        }
    )
    assert body["messages"][1]["tool_calls"][0]["id"] == body["messages"][2]["tool_call_id"]
    strictly_valid(body)


def test_reasoning_and_signatures_are_never_sent_and_empty_assistant_turns_are_dropped() -> None:
    body = translate(
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "", "reasoning_content": "thinking..."},
                {"role": "user", "content": "Again"},
                {"role": "assistant", "content": None, "tool_calls": [call("fc_abc__thought__c2lnbmF0dXJl")]},
                {"role": "tool", "tool_call_id": "fc_abc__thought__c2lnbmF0dXJl", "content": "ok"},
            ]
        }
    )
    text = json.dumps(body)
    assert "thinking" not in text and "thought" not in text and "c2lnbmF0dXJl" not in text
    assert [m["role"] for m in body["messages"]] == ["user", "user", "assistant", "tool"]
    strictly_valid(body)


def test_audio_is_refused_before_anything_is_sent() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(InvalidRequestError) as caught:
        translate({"messages": [{"role": "user", "content": [audio]}]})
    assert caught.value.param == "messages[0].content"
