"""OpenAI request -> Gemini body: golden pairs plus the rules a golden cannot show (traps: docs/gemini-wire-format.md#traps)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from chatpath import gemini_to_chat_completion
from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.providers.gemini.chat_request import (
    FAMILY_2,
    FAMILY_3,
    FAMILY_UNKNOWN,
    TranslateOptions,
    chat_request_to_gemini,
    ignored_params,
    model_family,
)
from hpn_router.core.toolids import DUMMY_THOUGHT_SIGNATURE, encode_call_id

DATA = Path(__file__).resolve().parents[3] / "data" / "translate" / "request"
G3 = "gemini-3-flash-preview"
GOLDEN = sorted(p.name.removesuffix(".openai.json") for p in DATA.glob("*.openai.json"))


def load(name: str, kind: str) -> dict:
    return json.loads((DATA / f"{name}.{kind}.json").read_text(encoding="utf-8"))


def translate(body: dict, *, model: str = "gemini-2.5-flash", **options: bool) -> dict:
    return chat_request_to_gemini(parse_chat_request(body), model, TranslateOptions(**options))


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def call(call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def all_parts(gemini: dict) -> list[dict]:
    parts = [p for c in gemini["contents"] for p in c["parts"]]
    return parts + gemini.get("systemInstruction", {}).get("parts", [])


def test_golden_set_is_complete() -> None:
    assert len(GOLDEN) >= 30
    for name in GOLDEN:
        assert (DATA / f"{name}.gemini.json").exists(), name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_request(name: str) -> None:
    body = load(name, "openai")
    options_path = DATA / f"{name}.options.json"
    options = json.loads(options_path.read_text()) if options_path.exists() else {}
    model = options.pop("gemini_model", "gemini-2.5-flash")
    original = copy.deepcopy(body)
    assert chat_request_to_gemini(parse_chat_request(body), model, TranslateOptions(**options)) == load(name, "gemini")
    assert body == original, "translation must not modify the request"


@pytest.mark.parametrize("name", GOLDEN)
def test_never_empty_parts_or_text(name: str) -> None:
    """Trap 9: Gemini 400s on empty parts and on empty text parameters."""
    options = json.loads((DATA / f"{name}.options.json").read_text()) if (DATA / f"{name}.options.json").exists() else {}
    options.pop("gemini_model", None)
    gemini = translate(load(name, "openai"), **options)
    assert gemini["contents"][0]["role"] == "user"
    for content in gemini["contents"]:
        assert content["parts"], content
        assert content["role"] in ("user", "model")
    for previous, current in zip(gemini["contents"], gemini["contents"][1:], strict=False):
        assert previous["role"] != current["role"], "consecutive same-role turns must be merged"
    for part in all_parts(gemini):
        assert part.get("text", "x") != ""


def test_tool_results_form_one_turn_in_call_order_with_counts_matching() -> None:
    body = load("tool_results_grouped", "openai")
    gemini = translate(body)
    model_turn, results = gemini["contents"][1], gemini["contents"][2]
    calls = [p["functionCall"]["name"] for p in model_turn["parts"]]
    responses = [p["functionResponse"] for p in results["parts"]]
    assert [r["name"] for r in responses] == calls
    assert responses[0]["response"] == {"content": "sunny, 18 °C"}  # call_A answered second, placed first
    assert responses[2]["response"] == {"error": "no result provided"}


def test_synthesized_ids_are_never_sent_upstream_and_gemini_ids_are_echoed() -> None:
    body = {
        "model": "m",
        "messages": [
            user("hi"),
            {"role": "assistant", "tool_calls": [call("call_abcdefghijklmnopqrstuvwx"), call(encode_call_id("g-1", None))]},
            {"role": "tool", "tool_call_id": "call_abcdefghijklmnopqrstuvwx", "content": "1"},
            {"role": "tool", "tool_call_id": encode_call_id("g-1", None), "content": "2"},
        ],
    }
    gemini = translate(body)
    first, second = (p["functionCall"] for p in gemini["contents"][1]["parts"])
    assert "id" not in first and second["id"] == "g-1"
    r1, r2 = (p["functionResponse"] for p in gemini["contents"][2]["parts"])
    assert "id" not in r1 and r2["id"] == "g-1"


def test_signature_round_trip_from_response_to_next_request() -> None:
    """Trap 7: each signature goes back onto its own functionCall part."""
    gemini_response = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "SIG/one+=="},
                        {"functionCall": {"id": "abc", "name": "get_weather", "args": {"city": "Rome"}}, "thoughtSignature": "SIG_two"},
                        {"functionCall": {"name": "get_time"}},
                    ],
                },
                "finishReason": "STOP",
            }
        ]
    }
    completion = gemini_to_chat_completion(gemini_response, model="m", completion_id="c", created=1)
    message = completion["choices"][0]["message"]
    follow_up = {
        "model": "m",
        "messages": [user("go"), message] + [{"role": "tool", "tool_call_id": c["id"], "content": "{}"} for c in message["tool_calls"]],
    }
    for model in ("gemini-2.5-flash", G3):
        parts = translate(follow_up, model=model)["contents"][1]["parts"]
        assert [p.get("thoughtSignature") for p in parts] == ["SIG/one+==", "SIG_two", None]
        assert [p["functionCall"].get("id") for p in parts] == [None, "abc", None]
        assert [p["functionCall"]["args"] for p in parts] == [{"city": "Paris"}, {"city": "Rome"}, {}]


def test_dummy_signature_only_on_gemini3_and_only_on_the_first_call() -> None:
    body = {
        "model": "m",
        "messages": [
            user("go"),
            {"role": "assistant", "tool_calls": [call("call_1"), call("call_2")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "1"},
            {"role": "tool", "tool_call_id": "call_2", "content": "2"},
        ],
    }
    plain = translate(body)["contents"][1]["parts"]
    assert all("thoughtSignature" not in p for p in plain)
    g3 = translate(body, model=G3)["contents"][1]["parts"]
    assert g3[0]["thoughtSignature"] == DUMMY_THOUGHT_SIGNATURE == "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="
    assert "thoughtSignature" not in g3[1]


def test_dummy_not_used_when_first_call_has_its_signature() -> None:
    body = {
        "model": "m",
        "messages": [user("go"), {"role": "assistant", "tool_calls": [call(encode_call_id(None, "real")), call("call_2")]}],
    }
    parts = translate(body, model=G3)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == "real"
    assert "thoughtSignature" not in parts[1]


def test_trailing_unanswered_call_turn_is_left_alone() -> None:
    body = {"model": "m", "messages": [user("go"), {"role": "assistant", "tool_calls": [call("call_1")]}]}
    contents = translate(body)["contents"]
    assert [c["role"] for c in contents] == ["user", "model"]


def test_empty_arguments_string_means_no_arguments() -> None:
    body = {"model": "m", "messages": [user("go"), {"role": "assistant", "tool_calls": [call("call_1", arguments="")]}]}
    assert translate(body)["contents"][1]["parts"][0]["functionCall"]["args"] == {}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"ok": true}', {"ok": True}),
        ("[1, 2]", {"result": [1, 2]}),
        ('"quoted"', {"result": "quoted"}),
        ("null", {"result": None}),
        ("plain text", {"content": "plain text"}),
        ("", {"content": ""}),
        ([{"type": "text", "text": '{"a"'}, {"type": "text", "text": ": 1}"}], {"a": 1}),
    ],
)
def test_tool_result_becomes_an_object(content: object, expected: dict) -> None:
    body = {
        "model": "m",
        "messages": [
            user("go"),
            {"role": "assistant", "tool_calls": [call("call_1")]},
            {"role": "tool", "tool_call_id": "call_1", "content": content},
        ],
    }
    assert translate(body)["contents"][2]["parts"][0]["functionResponse"]["response"] == expected


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    body = {"model": "m", "messages": [user("x")], "max_tokens": 10, "max_completion_tokens": 20}
    assert translate(body)["generationConfig"]["maxOutputTokens"] == 20


def test_stop_string_becomes_list() -> None:
    assert translate({"model": "m", "messages": [user("x")], "stop": "END"})["generationConfig"]["stopSequences"] == ["END"]


@pytest.mark.parametrize(
    ("effort", "budget", "level"),
    [
        ("none", 0, "MINIMAL"),
        ("minimal", 512, "MINIMAL"),
        ("low", 1024, "LOW"),
        ("medium", 8192, "MEDIUM"),
        ("high", 24576, "HIGH"),
        ("xhigh", 24576, "HIGH"),
    ],
)
def test_reasoning_effort_table(effort: str, budget: int, level: str) -> None:
    body = {"model": "m", "messages": [user("x")], "reasoning_effort": effort}
    assert translate(body)["generationConfig"]["thinkingConfig"] == {"thinkingBudget": budget}
    assert translate(body, model=G3)["generationConfig"]["thinkingConfig"] == {"thinkingLevel": level}


def test_include_thoughts_only_when_exposing_reasoning() -> None:
    body = {"model": "m", "messages": [user("x")]}
    assert "generationConfig" not in translate(body)
    assert translate(body, expose_reasoning=True)["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}


def test_penalties_kept_before_gemini3_and_dropped_on_it() -> None:
    body = {"model": "m", "messages": [user("x")], "presence_penalty": 1, "frequency_penalty": 0.5}
    assert translate(body)["generationConfig"] == {"presencePenalty": 1, "frequencyPenalty": 0.5}
    assert "generationConfig" not in translate(body, model=G3)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gemini-2.5-flash", FAMILY_2),
        ("gemini-2.5-pro", FAMILY_2),
        ("gemini-2.0-flash", FAMILY_2),
        ("models/gemini-2.5-flash-lite", FAMILY_2),
        ("gemini-3-flash-preview", FAMILY_3),
        ("gemini-3.1-pro-preview", FAMILY_3),
        ("gemini-3.5-flash", FAMILY_3),
        ("gemini-flash-latest", FAMILY_UNKNOWN),  # moving aliases: never guessed
        ("gemini-flash-lite-latest", FAMILY_UNKNOWN),
        ("gemini-pro-latest", FAMILY_UNKNOWN),
        ("gemini-4-flash", FAMILY_UNKNOWN),
        ("gemini-30b", FAMILY_UNKNOWN),
        ("gemma-3-27b-it", FAMILY_UNKNOWN),
    ],
)
def test_model_family_comes_only_from_an_explicit_version(model: str, family: str) -> None:
    assert model_family(model) == family


@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high", "xhigh"])
@pytest.mark.parametrize("alias", ["gemini-flash-latest", "gemini-flash-lite-latest", "gemini-4-flash"])
def test_reasoning_effort_on_an_unknown_family_is_a_budget_both_families_take(alias: str, effort: str) -> None:
    body = {"model": "gpt-4o", "messages": [user("x")], "reasoning_effort": effort}
    assert translate(body, model=alias)["generationConfig"]["thinkingConfig"] == translate(body)["generationConfig"]["thinkingConfig"]


def test_a_pro_name_never_gets_budget_zero_nor_a_level_pro_refuses() -> None:
    body = {"model": "m", "messages": [user("x")], "reasoning_effort": "none"}
    assert translate(body, model="gemini-pro-latest")["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 128}
    assert translate(body, model="gemini-2.5-pro")["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 128}
    levels = {
        effort: translate({**body, "reasoning_effort": effort}, model="gemini-3.1-pro-preview")["generationConfig"]["thinkingConfig"]
        for effort in ("none", "minimal", "low", "medium", "high", "xhigh")
    }
    assert {e: c["thinkingLevel"] for e, c in levels.items()} == {
        "none": "LOW", "minimal": "LOW", "low": "LOW", "medium": "HIGH", "high": "HIGH", "xhigh": "HIGH",
    }  # fmt: skip


def test_penalties_are_sent_only_to_gemini2_and_named_when_ignored() -> None:
    body = {"model": "m", "messages": [user("x")], "presence_penalty": 1, "frequency_penalty": 0.5}
    for model in ("gemini-flash-latest", "gemini-4-flash", G3):
        assert "generationConfig" not in translate(body, model=model)
        assert ignored_params(parse_chat_request(body), model) == ["presence_penalty", "frequency_penalty"]
    assert ignored_params(parse_chat_request(body), "gemini-2.5-flash") == []
    assert ignored_params(parse_chat_request({**body, "presence_penalty": None}), G3) == ["frequency_penalty"]
    assert ignored_params(parse_chat_request({"model": "m", "messages": [user("x")]}), G3) == []


def test_placeholder_signature_on_unknown_families_too() -> None:
    body = {"model": "m", "messages": [user("go"), {"role": "assistant", "tool_calls": [call("call_1")]}]}
    for model in ("gemini-flash-latest", "gemini-4-pro"):
        assert translate(body, model=model)["contents"][1]["parts"][0]["thoughtSignature"] == DUMMY_THOUGHT_SIGNATURE
    assert "thoughtSignature" not in translate(body)["contents"][1]["parts"][0]
