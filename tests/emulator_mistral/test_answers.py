"""Deterministic answers: echo text, tool calls with 9-character ids, truncation, embeddings."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from mistral_emulator import answers

CTX = answers.AnswerContext("mistral-small-latest", seq=3, created=1_767_225_600)
TOOLS = [
    {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "b"}},
]


def body(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": "mistral-small-latest", "messages": [{"role": "user", "content": text}], **fields}


def test_echo_and_usage() -> None:
    response = answers.chat_response(body("hello"), CTX)
    assert response["choices"][0]["message"]["content"] == "Echo: hello"
    assert response["id"] == answers.chat_response(body("other"), CTX)["id"]  # depends on the request number only
    usage = response["usage"]
    assert usage["completion_tokens"] == 3 and usage["total_tokens"] == usage["prompt_tokens"] + 3


def test_tool_calls_use_mistral_shaped_ids() -> None:
    message = answers.chat_response(body("go [[parallel]]", tools=TOOLS), CTX)["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    calls = message["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["a", "b"]
    assert all(re.fullmatch(r"[a-zA-Z0-9]{9}", c["id"]) for c in calls)
    assert json.loads(calls[0]["function"]["arguments"]) == {"n": 1}


def test_tool_choice_none_and_named() -> None:
    assert answers.chat_response(body("x", tools=TOOLS, tool_choice="none"), CTX)["choices"][0]["finish_reason"] == "stop"
    named = answers.chat_response(body("x", tools=TOOLS, tool_choice={"type": "function", "function": {"name": "b"}}), CTX)
    assert [c["function"]["name"] for c in named["choices"][0]["message"]["tool_calls"]] == ["b"]


def test_after_tool_results_the_answer_quotes_them() -> None:
    request = body("x", tools=TOOLS)
    request["messages"] += [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "abcDEF123", "function": {"name": "a", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "abcDEF123", "content": "42"},
    ]
    assert answers.chat_response(request, CTX)["choices"][0]["message"]["content"] == "Tool said: 42"


def test_max_tokens_truncates_and_model_length_marker() -> None:
    cut = answers.chat_response(body("[[long]]", max_tokens=5), CTX)["choices"][0]
    assert cut["finish_reason"] == "length" and len(cut["message"]["content"]) == 20
    long = answers.chat_response(body("[[model_length]]"), CTX)
    assert long["choices"][0]["finish_reason"] == "model_length"
    assert answers.stream_chunks(long)[-1]["choices"][0]["finish_reason"] == "length"  # streams have no model_length


def test_json_schema_answers_an_instance() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    text = answers.chat_response(body("x", response_format=fmt), CTX)["choices"][0]["message"]["content"]
    assert json.loads(text) == {"city": "city-example", "tags": ["tags-example"]}


def test_embeddings_are_unit_vectors_and_encodings() -> None:
    vector = answers.embedding("hi", 16)
    assert abs(sum(v * v for v in vector) - 1) < 1e-4 and vector == answers.embedding("hi", 16)
    assert len(base64.b64decode(answers.encode_embedding(vector, "float", "base64"))) == 64
    assert all(-128 <= v <= 127 for v in answers.encode_embedding(vector, "int8", "float"))
    assert len(answers.encode_embedding(vector, "ubinary", "float")) == 2
