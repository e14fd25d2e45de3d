"""Deterministic answers: echo, markers, stop sequences, tools, thinking signatures, JSON output, usage."""

from __future__ import annotations

import json
from typing import Any

from anthropic_emulator.answers import (
    AnswerContext,
    count_tokens_response,
    make_id,
    message_response,
    sign,
    split_text,
    stream_events,
    verify_signature,
)
from anthropic_emulator.scenario import BUILTIN_MODELS

SONNET = next(m for m in BUILTIN_MODELS if m.id.startswith("claude-sonnet-4-5"))
CTX = AnswerContext(SONNET, seq=1)
TOOLS = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"enum": ["UTC"]}}, "required": ["tz"]}},
]


def body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 500, "messages": [{"role": "user", "content": text}], **extra}


def test_echo_is_deterministic() -> None:
    assert message_response(body(), CTX) == message_response(body(), CTX)
    assert message_response(body(), CTX)["content"] == [{"type": "text", "text": f"Hello from {SONNET.id}! You said: hi"}]
    assert make_id("msg_", "x") != make_id("msg_", "y") and len(make_id("msg_", "x")) == 28


def test_markers_and_stop_sequences() -> None:
    assert message_response(body("x [[max_tokens]]"), CTX)["stop_reason"] == "max_tokens"
    refusal = message_response(body("[[refusal]]"), CTX)
    assert (refusal["stop_reason"], refusal["content"], refusal["usage"]["output_tokens"]) == ("refusal", [], 1)
    stopped = message_response(body("one STOP two", stop_sequences=["STOP"]), CTX)
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "STOP")
    assert stopped["content"][0]["text"].endswith("one ")
    assert message_response(body("[[long]]", max_tokens=5), CTX)["stop_reason"] == "max_tokens"


def test_tools_called_by_name_in_parallel_or_forced() -> None:
    named = message_response(body("what time?  get_time", tools=TOOLS), CTX)
    assert [(b["name"], b["input"]) for b in named["content"]] == [("get_time", {"tz": "UTC"})] and named["stop_reason"] == "tool_use"
    parallel = message_response(body("[[parallel]]", tools=TOOLS), CTX)
    assert [b["name"] for b in parallel["content"]] == ["get_weather", "get_time"]
    assert len({b["id"] for b in parallel["content"]}) == 2
    single = message_response(body("[[parallel]]", tools=TOOLS, tool_choice={"type": "auto", "disable_parallel_tool_use": True}), CTX)
    assert len(single["content"]) == 1
    assert message_response(body("[[no_tools]]", tools=TOOLS), CTX)["stop_reason"] == "end_turn"
    assert message_response(body("hi", tools=TOOLS, tool_choice={"type": "none"}), CTX)["stop_reason"] == "end_turn"


def test_thinking_block_is_signed_and_modifications_are_detected() -> None:
    block = message_response(body(thinking={"type": "adaptive"}), CTX)["content"][0]
    assert block["type"] == "thinking" and verify_signature(block["thinking"], block["signature"])
    assert not verify_signature(block["thinking"] + ".", block["signature"]) and not verify_signature("x", "Zm9yZWlnbg==")
    assert sign("a") != sign("b")


def test_json_schema_output() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}
    answer = message_response(body(output_config={"format": {"type": "json_schema", "schema": schema}}), CTX)
    assert json.loads(answer["content"][0]["text"]) == {"n": 1, "tags": ["example"]}


def test_usage_sums_to_the_prompt_and_cache_split() -> None:
    system = [{"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}]
    total = count_tokens_response(body(system=system))["input_tokens"]
    for hit in (None, False, True):
        usage = message_response(body(system=system), AnswerContext(SONNET, 1, hit))["usage"]
        assert usage["input_tokens"] + usage["cache_creation_input_tokens"] + usage["cache_read_input_tokens"] == total
    assert message_response(body(system=system), AnswerContext(SONNET, 1, True))["usage"]["cache_read_input_tokens"] == 100


def test_stream_events_rebuild_the_message() -> None:
    message = message_response(body("[[parallel]]", tools=TOOLS, thinking={"type": "adaptive"}), CTX)
    events = stream_events(message)
    rebuilt: list[dict[str, Any]] = []
    for name, data in events:
        if name == "content_block_start":
            rebuilt.append(dict(data["content_block"]))
            rebuilt[-1]["partial"] = ""
        elif name == "content_block_delta":
            delta, block = data["delta"], rebuilt[data["index"]]
            if delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                block["partial"] += delta["partial_json"]
        elif name == "content_block_stop":
            block = rebuilt[data["index"]]
            if block["type"] == "tool_use":
                block["input"] = json.loads(block["partial"])
            del block["partial"]
    assert rebuilt == message["content"]
    assert [n for n, _ in events].count("ping") == 1


def test_split_text_joins_back() -> None:
    assert "".join(split_text("hello world")) == "hello world" and split_text("") == [""]
