"""Claude's extended thinking through the OpenAI SDK, end to end: `reasoning_effort` turns it on,
the thinking shows as `reasoning_content` when the router exposes reasoning, and in a tool loop
the thinking blocks ride in the tool call's id back to the strict Anthropic emulator, which
checks their signatures as Anthropic does (a changed or missing block is a 400)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import openai
import pytest
from procs import KEYS, Emulator, Router, client_for, start_anthropic_emulator, start_router

ANTHROPIC_KEY = "sk-ant-api03-E2eThinking-00000000000000000000000000000000000000001-AAAA"
MODEL = "claude-sonnet-4-5"
MARK = "__thinking__"
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
ASK = {"role": "user", "content": "Weather in Paris?"}


@pytest.fixture(scope="module")
def claude_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_anthropic_emulator({"keys": [{"key": ANTHROPIC_KEY}]}, tmp_path_factory.mktemp("anthropic"))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def router(emulator: Emulator, claude_emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    env = {"HPN_ANTHROPIC_API_KEYS": ANTHROPIC_KEY, "HPN_ANTHROPIC_BASE_URL": claude_emu.url}
    config = {"gemini": {"expose_reasoning": True}, "cache": {"enabled": False}}
    router = start_router(tmp_path_factory.mktemp("router"), keys=KEYS[:1], gemini_url=emulator.url, config=config, env=env)
    yield router
    router.stop()


@pytest.fixture
def client(router: Router, claude_emu: Emulator) -> openai.OpenAI:
    claude_emu.reset()
    return client_for(router)


def statuses(emu: Emulator) -> list[int]:
    return [r["status"] for r in emu.stats()["requests"]]


def history(call_id: str, name: str, arguments: str) -> list[dict]:
    return [
        ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18C"},
    ]


def test_a_tool_loop_with_thinking_streamed_then_answered(client: openai.OpenAI, claude_emu: Emulator) -> None:
    stream = client.chat.completions.create(model=MODEL, messages=[ASK], tools=[WEATHER], reasoning_effort="high", stream=True)
    chunks = [c for c in stream if c.choices]
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks)
    [call] = [call for c in chunks for call in c.choices[0].delta.tool_calls or []]
    assert reasoning and call.id.startswith("toolu_") and MARK in call.id

    answer = client.chat.completions.create(
        model=MODEL, messages=history(call.id, call.function.name, call.function.arguments), tools=[WEATHER], reasoning_effort="high"
    )
    message = answer.choices[0].message
    assert "18C" in (message.content or "") and answer.choices[0].finish_reason == "stop"
    assert getattr(message, "reasoning_content", None)  # exposed: gemini.expose_reasoning is on
    assert statuses(claude_emu) == [200, 200]  # the emulator verified the signed thinking block


def test_the_thinking_must_come_back_unmodified(client: openai.OpenAI, claude_emu: Emulator) -> None:
    first = client.chat.completions.create(model=MODEL, messages=[ASK], tools=[WEATHER], reasoning_effort="low")
    [call] = first.choices[0].message.tool_calls or []
    base, _, packed = call.id.partition(MARK)
    blocks = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    blocks[0]["thinking"] += " (edited)"
    edited = base + MARK + base64.urlsafe_b64encode(json.dumps(blocks).encode()).decode().rstrip("=")
    for bad_id, says in [(edited, "Invalid `signature`"), (base, "must start with a thinking block")]:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=MODEL, messages=history(bad_id, call.function.name, call.function.arguments), tools=[WEATHER], reasoning_effort="low"
            )
        assert says in str(caught.value)
    assert statuses(claude_emu) == [200, 400, 400]
