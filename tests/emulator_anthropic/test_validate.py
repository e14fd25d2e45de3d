"""Every request trap answers Anthropic's 400 invalid_request_error with its message (pure checks)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from anthropic_emulator.answers import sign
from anthropic_emulator.scenario import BUILTIN_MODELS
from anthropic_emulator.validate import (
    BLANK_TEXT,
    EMPTY_TEXT,
    FIRST_USER,
    FORCED_TOOL,
    NEEDS_TOOLS,
    SYSTEM_ROLE,
    TRAILING_SPACE,
    ValidationContext,
    validate_messages,
)

SONNET = next(m for m in BUILTIN_MODELS if m.id.startswith("claude-sonnet-4-5"))
HAIKU_35 = next(m for m in BUILTIN_MODELS if m.id.startswith("claude-3-5-haiku"))
CTX = ValidationContext(SONNET)
TOOL = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
USE = {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"}
THINK = {"type": "thinking", "thinking": "hmm", "signature": sign("hmm")}


def request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def tool_loop(assistant: list[dict[str, Any]], user: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": assistant}, {"role": "user", "content": user}]
    return request(messages=messages, tools=[TOOL], **overrides)


def message(body: Any, ctx: ValidationContext = CTX) -> str:
    error = validate_messages(body, ctx)
    assert error is not None, "accepted"
    assert (error.status, error.type) == (400, "invalid_request_error")
    return error.message


@pytest.mark.parametrize(
    "body",
    [
        request(),
        request(system="be brief", temperature=1, top_p=0.5, top_k=5, stop_sequences=["END"], metadata={"user_id": "u1"}),
        request(system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]),
        tool_loop([{"type": "text", "text": "Let me check."}, USE], [RESULT, {"type": "text", "text": "and?"}]),
        tool_loop([THINK, USE], [RESULT], thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048),
        request(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"}]),  # prefill
        request(thinking={"type": "adaptive"}, output_config={"effort": "low"}),
        request(tools=[TOOL], tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}),
        request(output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}}),
        request(
            messages=[
                {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}]}
            ]
        ),
    ],
)
def test_valid_requests_pass(body: dict[str, Any]) -> None:
    assert validate_messages(body, CTX) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (request(max_tokens=None), "max_tokens: Field required"),
        (request(messages=None), "messages: Field required"),
        (request(n=2), "n: Extra inputs are not permitted"),
        (request(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
        (request(max_tokens="5"), "max_tokens: Input should be a valid integer"),
        (
            request(max_tokens=100_000),
            "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929",
        ),
        (request(temperature=1.5), "temperature: Input should be less than or equal to 1"),
        (request(temperature=-0.1), "temperature: Input should be greater than or equal to 0"),
        (request(top_p=2), "top_p: Input should be less than or equal to 1"),
        (request(stop_sequences=["  "]), "stop_sequences: each stop sequence must contain non-whitespace"),
        (request(metadata={"user": "x"}), "metadata.user: Extra inputs are not permitted"),
        (request(messages=[]), "messages: at least one message is required"),
        (request(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]), SYSTEM_ROLE),
        (request(messages=[{"role": "tool", "content": "x"}]), "messages.0.role: Input should be 'user' or 'assistant'"),
        (request(messages=[{"role": "user", "content": "hi", "name": "bob"}]), "messages.0.name: Extra inputs are not permitted"),
        (request(messages=[{"role": "assistant", "content": "hi"}]), FIRST_USER),
        (
            request(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
            'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row',
        ),
        (request(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]), EMPTY_TEXT),
        (request(messages=[{"role": "user", "content": [{"type": "text", "text": " \n"}]}]), BLANK_TEXT),
        (
            request(messages=[{"role": "user", "content": ""}]),
            "messages.0: all messages must have non-empty content except for the optional final assistant message",
        ),
        (
            request(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Sure "}]}]),
            TRAILING_SPACE,
        ),
        (request(system=[{"type": "text", "text": ""}]), "system: text content blocks must be non-empty"),
        (
            request(messages=[{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]),
            "messages.0.content.0: Input tag 'input_text' found using 'type' does not match any of the expected tags:"
            " 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'search_result'",
        ),
        (
            request(
                messages=[
                    {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}]}
                ]
            ),
            "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
        ),
        (
            request(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,x"}}]}]),
            "messages.0.content.0: Input tag 'image_url' found using 'type' does not match any of the expected tags:"
            " 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'search_result'",
        ),
    ],
)
def test_request_traps(body: dict[str, Any], expected: str) -> None:
    assert message(body) == expected


def test_combine_mode_merges_consecutive_turns_and_allows_an_assistant_start() -> None:
    ctx = ValidationContext(SONNET, role_check="combine")
    body = request(messages=[{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert validate_messages(body, ctx) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            request(
                messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": [USE]}, {"role": "user", "content": [RESULT]}]
            ),
            NEEDS_TOOLS,
        ),
        (
            tool_loop([USE], [{"type": "text", "text": "what now?"}]),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01."
            " Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
        ),
        (
            tool_loop([USE], [{"type": "text", "text": "here:"}, RESULT]),
            "messages.2: Did not find 1 `tool_result` block(s) at the beginning of this message."
            " Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks.",
        ),
        (
            tool_loop([USE], [RESULT, {**RESULT, "tool_use_id": "toolu_99"}]),
            "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: toolu_99."
            " Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
        ),
        (tool_loop([USE, USE], [RESULT]), "messages.1.content.1: `tool_use` ids must be unique"),
        (
            tool_loop([{**USE, "id": "call 1"}], [{**RESULT, "tool_use_id": "call 1"}]),
            "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
        ),
        (
            tool_loop([{**USE, "input": '{"city": "Paris"}'}], [RESULT]),
            "messages.1.content.0.tool_use.input: Input should be a valid dictionary",
        ),
        (
            request(tools=[{**TOOL, "name": "get.weather"}]),
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
        ),
        (request(tools=[{"name": "f", "parameters": {"type": "object"}}]), "tools.0.custom.input_schema: Field required"),
        (request(tools=[{**TOOL, "input_schema": {"type": "string"}}]), "tools.0.custom.input_schema.type: Input should be 'object'"),
        (request(tools=[TOOL, TOOL]), "tools: Tool names must be unique."),
        (
            request(tools=[TOOL], tool_choice={"type": "required"}),
            "tool_choice: Input tag 'required' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'",
        ),
        (request(tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}), "Tool 'nope' not found in provided tools"),
    ],
)
def test_tool_traps(body: dict[str, Any], expected: str) -> None:
    assert message(body) == expected


THINKING = {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (request(thinking={"type": "enabled"}), "thinking.enabled.budget_tokens: Field required"),
        (
            request(thinking={"type": "enabled", "budget_tokens": 512}),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            request(thinking=THINKING, max_tokens=2048),
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at"
            " https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
        ),
        (request(thinking=THINKING, max_tokens=4096, tools=[TOOL], tool_choice={"type": "any"}), FORCED_TOOL),
        (
            request(thinking=THINKING, max_tokens=4096, temperature=0.2),
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at"
            " https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
        ),
        (
            request(thinking=THINKING, max_tokens=4096, top_k=3),
            "`top_k` must be unset when thinking is enabled. Please consult our"
            " documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
        ),
        (
            request(thinking={"type": "on"}),
            "thinking: Input tag 'on' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'",
        ),
        (
            tool_loop([USE], [RESULT], thinking=THINKING, max_tokens=4096),
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled,"
            " a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and"
            " `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement,"
            " disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
        ),
        (tool_loop([{**THINK, "thinking": "edited"}, USE], [RESULT]), "messages.1.content.0: Invalid `signature` in `thinking` block"),
        (tool_loop([{"type": "thinking", "thinking": "hmm"}, USE], [RESULT]), "messages.1.content.0.thinking.signature: Field required"),
    ],
)
def test_thinking_traps(body: dict[str, Any], expected: str) -> None:
    assert message(body) == expected


def test_a_model_without_thinking_refuses_it() -> None:
    assert message(request(thinking=THINKING, max_tokens=4096), ValidationContext(HAIKU_35)) == (
        "'claude-3-5-haiku-20241022' does not support thinking."
    )


def test_count_tokens_takes_no_max_tokens_nor_stream() -> None:
    ctx = ValidationContext(SONNET, count_tokens=True)
    body = request(max_tokens=None)
    assert validate_messages(body, ctx) is None
    assert message(request(), ctx) == "max_tokens: Extra inputs are not permitted"
    assert message({**body, "stream": True}, ctx) == "stream: Extra inputs are not permitted"


def test_validation_does_not_change_the_body() -> None:
    body = tool_loop([THINK, USE], [RESULT], thinking=THINKING, max_tokens=4096)
    before = copy.deepcopy(body)
    validate_messages(body, ValidationContext(SONNET, role_check="combine"))
    assert body == before
