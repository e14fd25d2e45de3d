"""Deterministic answers, stream chunking, embeddings and signatures (pure)."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from gemini_emulator import answers
from gemini_emulator.answers import AnswerContext, generate_response, stream_chunks
from gemini_emulator.scenario import BUILTIN_MODELS

INFO = {m.id: m for m in BUILTIN_MODELS}
WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}, "days": {"type": "INTEGER", "minimum": 2}, "unit": {"type": "STRING"}},
        "required": ["city", "days"],
    },
}
NOW = {"name": "get_time"}
SEARCH = {"name": "search", "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}


def ctx(model: str = "gemini-2.5-flash-lite", seq: int = 1) -> AnswerContext:
    return AnswerContext(model, INFO[model], model.startswith("gemini-3"), seq)


def ask(text: str, model: str = "gemini-2.5-flash-lite", **extra: Any) -> dict[str, Any]:
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}
    return generate_response(body, ctx(model))


def parts(response: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    return response["candidates"][index]["content"].get("parts", [])


def test_plain_text_answer_and_usage() -> None:
    response = ask("What is up?")
    assert parts(response) == [{"text": "Hello from gemini-2.5-flash-lite! You said: What is up?"}]
    assert response["candidates"][0]["finishReason"] == "STOP"
    assert "index" not in response["candidates"][0]
    usage = response["usageMetadata"]
    assert usage["promptTokenCount"] == 3 and "thoughtsTokenCount" not in usage  # flash-lite: no thinking
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert response["modelVersion"] == "gemini-2.5-flash-lite" and response["responseId"]


def test_echo_is_truncated_and_long_marker() -> None:
    assert parts(ask("x" * 500))[0]["text"].endswith("x" * 200 + "")
    assert len(parts(ask("x" * 500))[0]["text"]) == len("Hello from gemini-2.5-flash-lite! You said: ") + 200
    assert 55 <= len(parts(ask("[[long]]"))[0]["text"].split()) <= 70


def test_blocked_prompt_has_no_candidates() -> None:
    response = ask("[[block]] bad")
    assert "candidates" not in response
    assert response["promptFeedback"]["blockReason"] == "SAFETY"
    assert stream_chunks(response) == [response]


def test_safety_finish_has_no_content() -> None:
    candidate = ask("[[safety]]")["candidates"][0]
    assert candidate["finishReason"] == "SAFETY" and "content" not in candidate


def test_thinking_eats_the_budget_no_parts() -> None:
    response = ask("hi", "gemini-2.5-flash", generationConfig={"maxOutputTokens": 20})
    assert response["candidates"] == [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]
    assert "candidatesTokenCount" not in response["usageMetadata"]
    assert response["usageMetadata"]["thoughtsTokenCount"] == 20


def test_max_output_tokens_truncates() -> None:
    response = ask("tell me", generationConfig={"maxOutputTokens": 3})
    assert response["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert response["usageMetadata"]["candidatesTokenCount"] <= 3
    assert ask("[[max_tokens]] please")["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_candidate_count() -> None:
    response = ask("hi", generationConfig={"candidateCount": 3})
    assert [c.get("index") for c in response["candidates"]] == [None, 1, 2]
    assert parts(response, 2)[0]["text"].endswith(" (candidate 2)")


def test_stop_sequences_cut_before_the_stop() -> None:
    response = ask("hi", generationConfig={"stopSequences": ["You said"]})
    assert parts(response)[0]["text"] == "Hello from gemini-2.5-flash-lite! "
    assert response["candidates"][0]["finishReason"] == "STOP"


def test_json_mode_follows_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "n": {"type": "integer", "minimum": 3},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
            "kind": {"enum": ["a", "b"]},
        },
        "required": ["name"],
        "$defs": {"Tag": {"type": "string", "format": "date-time"}},
    }
    config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
    value = json.loads(parts(ask("hi", generationConfig=config))[0]["text"])
    assert value == {"name": "example", "n": 3, "tags": ["2024-01-01T00:00:00Z"], "kind": "a"}
    plain = json.loads(parts(ask("hi", generationConfig={"responseMimeType": "application/json"}))[0]["text"])
    assert plain == {"answer": "Hello from gemini-2.5-flash-lite! You said: hi"}


def test_tool_call_uses_required_arguments_and_stop() -> None:
    response = ask("weather?", tools=[{"functionDeclarations": [WEATHER, NOW]}])
    assert parts(response) == [{"functionCall": {"name": "get_weather", "args": {"city": "example", "days": 2}}}]
    assert response["candidates"][0]["finishReason"] == "STOP"


def test_zero_argument_call_has_no_args_and_named_tool_is_preferred() -> None:
    response = ask("what is get_time now?", tools=[{"functionDeclarations": [WEATHER, NOW]}])
    assert parts(response) == [{"functionCall": {"name": "get_time"}}]


def test_parallel_calls_and_allowed_names() -> None:
    tools = [{"functionDeclarations": [WEATHER, NOW]}, {"functionDeclarations": [SEARCH]}]
    calls = [p["functionCall"]["name"] for p in parts(ask("[[parallel]]", tools=tools))]
    assert calls == ["get_weather", "get_time", "search"]
    config = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["search"]}}
    only = parts(ask("hi", tools=tools, toolConfig=config))
    assert only == [{"functionCall": {"name": "search", "args": {"q": "example"}}}]
    none = {"functionCallingConfig": {"mode": "NONE"}}
    assert "text" in parts(ask("hi", tools=tools, toolConfig=none))[0]


def test_gemini3_calls_get_ids_and_one_signature() -> None:
    response = ask("[[parallel]]", "gemini-3-flash-preview", tools=[{"functionDeclarations": [WEATHER, NOW]}])
    first, second = parts(response)
    assert first["functionCall"]["id"].startswith("fc_") and second["functionCall"]["id"].startswith("fc_")
    assert answers.verify_signature(first["thoughtSignature"]) and "thoughtSignature" not in second
    plain = ask("[[parallel]]", "gemini-2.5-flash", tools=[{"functionDeclarations": [WEATHER, NOW]}])
    assert all("id" not in p["functionCall"] and "thoughtSignature" not in p for p in parts(plain))


def test_function_responses_get_a_text_answer() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_time"}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_time", "response": {"now": "noon"}}}]},
        ],
        "tools": [{"functionDeclarations": [NOW]}],
    }
    response = generate_response(body, ctx())
    assert parts(response) == [{"text": 'Tool results received: [{"now":"noon"}]'}]


def test_thoughts_and_gemini3_text_signature() -> None:
    config = {"thinkingConfig": {"includeThoughts": True}}
    response = ask("hi", "gemini-3-flash-preview", generationConfig=config)
    thought, text = parts(response)
    assert thought == {"text": answers.THOUGHT_TEXT, "thought": True}
    assert answers.verify_signature(text["thoughtSignature"])
    assert response["usageMetadata"]["thoughtsTokenCount"] == answers.LEVEL_TOKENS["HIGH"]
    low = ask("hi", "gemini-3-flash-preview", generationConfig={"thinkingConfig": {"thinkingLevel": "LOW"}})
    assert low["usageMetadata"]["thoughtsTokenCount"] == answers.LEVEL_TOKENS["LOW"]
    off = ask("hi", "gemini-2.5-flash", generationConfig={"thinkingConfig": {"thinkingBudget": 0}})
    assert "thoughtsTokenCount" not in off["usageMetadata"]


def test_image_parts_count_258_tokens() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "abcd"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}]}
    usage = generate_response(body, ctx())["usageMetadata"]
    assert usage["promptTokenCount"] == 259
    assert usage["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": 1}, {"modality": "IMAGE", "tokenCount": 258}]


def test_stream_chunks_are_deltas_with_cumulative_usage() -> None:
    response = ask("stream this please", "gemini-2.5-flash", generationConfig={"thinkingConfig": {"includeThoughts": True}})
    events = stream_chunks(response)
    assert events[0]["candidates"][0]["content"]["parts"][0]["thought"] is True
    texts = [p["text"] for e in events[1:] for p in e["candidates"][0]["content"].get("parts", [])]
    assert len(texts) >= 3 and "".join(texts) == parts(response)[1]["text"]
    finishes = [e["candidates"][0].get("finishReason") for e in events]
    assert finishes[-1] == "STOP" and not any(finishes[:-1])
    assert "parts" not in events[-1]["candidates"][0]["content"]
    counts = [e["usageMetadata"].get("candidatesTokenCount", 0) for e in events]
    assert counts == sorted(counts) and events[-1]["usageMetadata"] == response["usageMetadata"]
    assert all(e["responseId"] == response["responseId"] for e in events)


def test_stream_function_calls_arrive_whole_in_one_chunk() -> None:
    response = ask("[[parallel]]", tools=[{"functionDeclarations": [WEATHER, NOW]}])
    events = stream_chunks(response)
    assert len(events) == 2
    assert [p["functionCall"]["name"] for p in events[0]["candidates"][0]["content"]["parts"]] == ["get_weather", "get_time"]


@pytest.mark.parametrize("text", ["", "a", "two words", "one two three four five six seven  eight nine ", "x" * 10])
def test_split_text_joins_back(text: str) -> None:
    pieces = answers.split_text(text)
    assert "".join(pieces) == text
    assert len(pieces) >= min(3, len(text)) or text == ""


def test_embeddings_are_deterministic_and_not_normalised_when_reduced() -> None:
    full = answers.embedding("hello")
    assert len(full) == 3072 and math.isclose(math.sqrt(sum(v * v for v in full)), 1.0, rel_tol=1e-5)
    reduced = answers.embedding("hello", 768)
    assert reduced == full[:768] and not math.isclose(math.sqrt(sum(v * v for v in reduced)), 1.0, rel_tol=1e-3)
    assert answers.embedding("other", 128) != full[:128]


def test_signatures() -> None:
    signature = answers.make_signature("seed")
    assert answers.verify_signature(signature) and signature == answers.make_signature("seed")
    assert answers.verify_signature("c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=")
    assert not answers.verify_signature("bm90IG91cnM=") and not answers.verify_signature("%%%")
    raw = base64.b64decode(signature)
    assert answers.verify_signature(base64.urlsafe_b64encode(raw).decode().rstrip("="))  # as google-genai sends it


def test_count_tokens_response() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "12345678"}]}]}
    assert answers.count_tokens_response(body) == {"totalTokens": 2, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2}]}


def test_logprobs_spell_the_answer_with_alternatives() -> None:
    response = ask("Hi, there!", generationConfig={"responseLogprobs": True, "logprobs": 3})
    candidate = response["candidates"][0]
    result = candidate["logprobsResult"]
    text = parts(response)[0]["text"]
    assert "".join(c["token"] for c in result["chosenCandidates"]) == text
    assert len(result["topCandidates"]) == len(result["chosenCandidates"])
    for chosen, top in zip(result["chosenCandidates"], result["topCandidates"], strict=True):
        alternatives = top["candidates"]
        assert len(alternatives) == 3 and alternatives[0] == chosen and len({a["token"] for a in alternatives}) == 3
        assert [a["logProbability"] for a in alternatives] == sorted((a["logProbability"] for a in alternatives), reverse=True)
        assert sum(math.exp(a["logProbability"]) for a in alternatives) <= 1 and chosen["logProbability"] < 0
    average = sum(c["logProbability"] for c in result["chosenCandidates"]) / len(result["chosenCandidates"])
    assert candidate["avgLogprobs"] == pytest.approx(average)
    assert ask("Hi, there!", generationConfig={"responseLogprobs": True, "logprobs": 3}) == response  # reproducible


def test_logprobs_without_alternatives_and_not_asked() -> None:
    result = ask("Hi", generationConfig={"responseLogprobs": True})["candidates"][0]["logprobsResult"]
    assert "topCandidates" not in result and result["chosenCandidates"]
    assert "logprobsResult" not in ask("Hi")["candidates"][0]


def test_streamed_logprobs_are_the_chunks_own_tokens() -> None:
    response = ask("tell me [[long]]", generationConfig={"responseLogprobs": True, "logprobs": 2})
    events = stream_chunks(response)
    texts = [e["candidates"][0] for e in events if "parts" in e["candidates"][0]["content"]]
    assert len(texts) >= 3
    for chunk in texts:
        tokens = [c["token"] for c in chunk["logprobsResult"]["chosenCandidates"]]
        assert "".join(tokens) == chunk["content"]["parts"][0]["text"]
        assert len(chunk["logprobsResult"]["topCandidates"]) == len(tokens)
    whole = response["candidates"][0]["logprobsResult"]["chosenCandidates"]
    assert [c for chunk in texts for c in chunk["logprobsResult"]["chosenCandidates"]] == whole
