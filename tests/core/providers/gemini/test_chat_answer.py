"""Gemini response -> the model -> OpenAI chat.completion: golden pairs, the model's finish reasons,
the stream decoder (OpenAI's side of finish and usage: tests/core/inbound/test_openai_chat_answer.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from chatpath import gemini_to_chat_completion
from hpn_router.core.model.answer import ChoiceEnd, ChoiceStart, Finish, StreamEnd, StreamError, TextDelta, ToolCallEvent, UsageReport
from hpn_router.core.providers.gemini.chat_answer import (
    FINISH_REASONS,
    GeminiStreamDecoder,
    gemini_answer,
    map_finish,
    usage_from_gemini,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "translate" / "response"
GOLDEN = sorted(p.name.removesuffix(".gemini.json") for p in DATA.glob("*.gemini.json"))
RANDOM_ID = re.compile(r"call_[A-Za-z0-9]{24}")
OPENAI_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


def complete(resp: dict, legacy_functions: bool = False, **options: bool) -> dict:
    return gemini_to_chat_completion(
        resp,
        model="gemini-2.5-flash",
        completion_id="chatcmpl-test",
        created=1764133800,
        legacy_functions=legacy_functions,
        **options,
    )


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_response(name: str) -> None:
    resp = json.loads((DATA / f"{name}.gemini.json").read_text(encoding="utf-8"))
    options_path = DATA / f"{name}.options.json"
    options = json.loads(options_path.read_text()) if options_path.exists() else {}
    # Synthesized ids are random: compare them as a placeholder.
    actual = json.loads(RANDOM_ID.sub("call_RANDOM", json.dumps(complete(resp, **options))))
    expected = json.loads((DATA / f"{name}.openai.json").read_text(encoding="utf-8"))
    assert actual == expected
    for choice in actual["choices"]:
        assert choice["finish_reason"] in OPENAI_FINISH


def test_golden_set_covers_the_traps() -> None:
    for name in (
        "text",
        "tool_call_stop",
        "zero_arg_call",
        "thought_parts_exposed",
        "max_tokens_no_parts",
        "safety",
        "blocked_prompt",
        "multi_candidates",
        "usage_thoughts_cached",
        "logprobs",
        "legacy_function_call",
    ):
        assert name in GOLDEN


def test_synthesized_ids_are_unique_and_well_formed() -> None:
    resp = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "a"}}, {"functionCall": {"name": "a"}}]}}]}
    ids = [c["id"] for c in complete(resp)["choices"][0]["message"]["tool_calls"]]
    assert len(set(ids)) == 2 and all(RANDOM_ID.fullmatch(i) for i in ids)


def test_arguments_keep_non_ascii() -> None:
    resp = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"q": "日本"}}}]}}]}
    assert complete(resp)["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"q": "日本"}'


def test_logprobs_tokens_spell_the_answer() -> None:
    steps = [{"token": t, "logProbability": -0.5} for t in ("日本", " is", " far")]
    resp = {"candidates": [{"content": {"parts": [{"text": "日本 is far"}]}, "logprobsResult": {"chosenCandidates": steps}}]}
    choice = complete(resp)["choices"][0]
    assert "".join(t["token"] for t in choice["logprobs"]["content"]) == choice["message"]["content"]
    assert bytes(choice["logprobs"]["content"][0]["bytes"]).decode() == "日本"


def test_no_logprobs_result_is_null_and_empty_result_is_empty_content() -> None:
    text = {"content": {"parts": [{"text": "x"}]}}
    assert complete({"candidates": [text]})["choices"][0]["logprobs"] is None
    # proto3 omits empty repeated fields: a call-only answer may carry an empty result
    assert complete({"candidates": [{**text, "logprobsResult": {}}]})["choices"][0]["logprobs"] == {"content": [], "refusal": None}


def test_tool_calls_finish_even_on_max_tokens() -> None:
    resp = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}, "finishReason": "MAX_TOKENS"}]}
    assert complete(resp)["choices"][0]["finish_reason"] == "tool_calls"


def test_the_model_keeps_what_openai_folds_into_stop() -> None:
    assert map_finish("MALFORMED_FUNCTION_CALL", False) is Finish.TOOL_ERROR
    assert map_finish("BRAND_NEW_REASON", False) is Finish.OTHER
    assert map_finish(None, False) is Finish.STOP
    assert set(FINISH_REASONS.values()) <= set(Finish)


CALL = {"functionCall": {"id": "c1", "name": "f"}, "thoughtSignature": "U0k="}


def sse(*events: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)


def test_a_whole_answer_in_the_model() -> None:
    resp = {
        "candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}, {"text": "Hi"}, CALL]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "thoughtsTokenCount": 1, "totalTokenCount": 6},
    }
    answer = gemini_answer(resp)
    [choice] = answer.choices
    assert (choice.text, choice.reasoning, choice.finish, choice.logprobs) == ("Hi", "hmm", Finish.TOOL_CALLS, None)
    [call] = choice.tool_calls
    assert (call.id, call.name, call.arguments, call.signature, call.signature_provider) == ("fc_c1", "f", "{}", "U0k=", "gemini")
    assert answer.usage is not None and (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.reasoning_tokens) == (3, 3, 1)
    assert answer.provider == "gemini" and answer.text == "Hi {}"


def test_the_stream_decoder_gives_model_events_one_upstream_event_at_a_time() -> None:
    decoder = GeminiStreamDecoder()
    usage = {"promptTokenCount": 2, "candidatesTokenCount": 1}
    first = decoder.feed(sse({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}], "usageMetadata": usage}))
    assert first == [ChoiceStart(0), TextDelta(0, "Hi")]
    second = decoder.feed(sse({"candidates": [{"content": {"parts": [CALL]}, "finishReason": "STOP"}]}))
    assert [type(e) for e in second] == [ToolCallEvent, ChoiceEnd]
    assert second[1] == ChoiceEnd(0, Finish.TOOL_CALLS)
    assert decoder.finish() == [UsageReport(usage_from_gemini(usage)), StreamEnd()]
    assert decoder.usage == usage_from_gemini(usage) and decoder.feed(sse({})) == []


def test_a_broken_stream_ends_with_one_error_and_nothing_after() -> None:
    decoder = GeminiStreamDecoder()
    assert decoder.feed(sse({"error": {"message": "overloaded"}})) == [StreamError("overloaded")]
    assert decoder.feed(sse({"candidates": []})) == [] and decoder.finish() == [] and decoder.fail("again") == []
