"""Anthropic's Messages API (`POST /v1/messages`) end to end: the official anthropic SDK, as its
users (and Claude Code) call it, through a real mitmdump against the Gemini emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx
import pytest
from procs import KEYS, Router

FLASH = "gemini-2.5-flash"
GEMINI3 = "gemini-3-flash-preview"  # the emulator checks thought signatures come back on calls
CLIENT_TOKEN = "sk-ant-client-token-not-a-gemini-key"
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
NO_WAIT = {"key_pool": {"max_wait_seconds": 0}}


def claude(router: Router, **kw: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=router.url, api_key=kw.pop("api_key", CLIENT_TOKEN), max_retries=0, **kw)  # type: ignore[arg-type]


@pytest.fixture
def client(router: Router) -> anthropic.Anthropic:
    return claude(router)


def test_create_with_a_claude_model_name_answers_from_the_default_gemini_model(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": "Say hi"}])
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.model == "claude-sonnet-4-5" and message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and "You said: Say hi" in message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_system_blocks_with_cache_control_are_accepted(client: anthropic.Anthropic) -> None:
    # Gemini's body is checked in tests/addons/test_messages.py; here, that the SDK's shape passes.
    system = [{"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(model=FLASH, max_tokens=100, system=system, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text.endswith("You said: hi")


def test_a_tool_round_trip(client: anthropic.Anthropic) -> None:
    history: list = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(model=GEMINI3, max_tokens=500, messages=history, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and call.input["city"]
    history += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": '{"temp": 21}'}]},
    ]
    second = client.messages.create(model=GEMINI3, max_tokens=500, messages=history, tools=[WEATHER])
    assert second.stop_reason == "end_turn" and second.content[0].text == 'Tool results received: [{"temp":21}]'


def test_streaming_keeps_anthropics_event_order_and_ends_with_usage(client: anthropic.Anthropic, router: Router) -> None:
    with client.messages.stream(model=FLASH, max_tokens=1000, messages=[{"role": "user", "content": "Tell me a story [[long]]"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and kinds.count("content_block_delta") > 1
    assert final.stop_reason == "end_turn" and len(final.content[0].text) > 200
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    # On the wire (the SDK hides pings): each block opened before its deltas and closed after.
    body = {"model": FLASH, "max_tokens": 1000, "stream": True, "messages": [{"role": "user", "content": "Tell me a story [[long]]"}]}
    with httpx.stream("POST", f"{router.url}/v1/messages", json=body, timeout=30) as answer:
        wire = [line.removeprefix("event: ") for line in answer.iter_lines() if line.startswith("event: ")]
    squeezed = [k for i, k in enumerate(wire) if i == 0 or k != wire[i - 1]]
    assert squeezed == [
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"
    ]  # fmt: skip


def test_a_streamed_tool_call_arrives_as_input_json(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=GEMINI3, max_tokens=500, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "input_json" in kinds  # the SDK's event for an input_json_delta
    [call] = [block for block in final.content if block.type == "tool_use"]
    assert call.input["city"] and final.stop_reason == "tool_use"


def test_stop_sequences_end_the_text_and_the_reason_is_end_turn(client: anthropic.Anthropic) -> None:
    """Gemini ends the text before the sequence and says STOP, as for a natural end: the router
    cannot tell a stop sequence, so it answers end_turn (README, Messages API), never a guess."""
    ask = {"model": FLASH, "max_tokens": 200, "messages": [{"role": "user", "content": "Stop me here"}], "stop_sequences": ["said"]}
    message = client.messages.create(**ask)  # type: ignore[arg-type]
    assert message.content[0].text.endswith("You ") and "said" not in message.content[0].text  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    with client.messages.stream(**ask | {"messages": [{"role": "user", "content": "Stream, stop me"}]}) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.content[0].text.endswith("You ") and (final.stop_reason, final.stop_sequence) == ("end_turn", None)  # type: ignore[union-attr]


def test_count_tokens_is_answered_by_geminis_count(client: anthropic.Anthropic, emulator) -> None:
    counted = client.messages.count_tokens(model="claude-haiku-4-5", messages=[{"role": "user", "content": "How many tokens is this?"}])
    assert counted.input_tokens > 0
    assert emulator.stats()["requests"][-1]["path"].endswith(":countTokens")


def test_bad_input_is_an_anthropic_400_naming_the_field(client: anthropic.Anthropic, router: Router) -> None:
    answer = httpx.post(f"{router.url}/v1/messages", json={"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 400
    assert answer.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}}
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="claude-x",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )  # type: ignore[list-item]


def test_client_tokens_are_accepted_as_x_api_key_and_a_bad_one_is_an_authentication_error(make_router, emulator) -> None:
    router = make_router(env={"HPN_CLIENT_TOKENS": CLIENT_TOKEN})
    with pytest.raises(anthropic.AuthenticationError) as info:
        claude(router, api_key="sk-ant-wrong").messages.create(model=FLASH, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert emulator.stats()["requests"] == []
    message = claude(router).messages.create(model=FLASH, max_tokens=200, messages=[{"role": "user", "content": "hi"}])  # x-api-key
    assert message.content[0].text
    bearer = anthropic.Anthropic(base_url=router.url, auth_token=CLIENT_TOKEN, max_retries=0)  # Authorization: Bearer
    assert bearer.messages.create(model=FLASH, max_tokens=200, messages=[{"role": "user", "content": "hi"}]).content[0].text


def test_an_exhausted_pool_is_a_rate_limit_error_with_retry_after(make_router, emulator) -> None:
    router = make_router(keys=KEYS[:2], config=NO_WAIT)
    for i in range(2):
        emulator.set_key(i, "rate_limit")
    with pytest.raises(anthropic.RateLimitError) as info:
        claude(router).messages.create(model=FLASH, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert int(info.value.response.headers["retry-after"]) >= 1


def test_a_rate_limited_key_fails_over_before_the_client_sees_a_byte(make_router, emulator) -> None:
    router = make_router(keys=KEYS[:2])
    emulator.set_key(0, "rate_limit")
    with claude(router).messages.stream(model=FLASH, max_tokens=200, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert final.content[0].text.endswith("You said: hi")
    assert [entry["status"] for entry in emulator.stats()["requests"]] == [429, 200]


def test_models_are_listed_in_anthropics_shape_for_anthropic_clients(client: anthropic.Anthropic) -> None:
    page = client.models.list()
    assert page.data and all(model.type == "model" and model.display_name for model in page.data)
    assert any(model.id == FLASH for model in page.data)


def test_the_readme_example_runs(router: Router) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- tested: messages-python -->\s*```bash\n(.*?)\n```", text, re.S)
    assert match, "README.md has no example marked messages-python"
    script = match.group(1).replace("127.0.0.1:8080", f"127.0.0.1:{router.port}").replace("python -", f"{sys.executable} -")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ANTHROPIC_") and "PROXY" not in k.upper()}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "You said: What is the capital of France?" in result.stdout and "You said: And of Italy?" in result.stdout


def test_an_identical_message_is_answered_from_the_cache_streamed_or_not(client: anthropic.Anthropic, emulator) -> None:
    ask = {"model": "claude-sonnet-4-5", "max_tokens": 500, "messages": [{"role": "user", "content": "Cache me"}]}
    with client.messages.stream(**ask) as stream:  # type: ignore[arg-type]
        first = stream.get_final_message()
    second = client.messages.with_raw_response.create(**ask)  # type: ignore[arg-type]
    assert second.headers["X-HPN-Cache"] == "HIT" and len(emulator.stats()["requests"]) == 1
    message = second.parse()
    assert "You said: Cache me" in first.content[0].text  # type: ignore[union-attr]
    assert message.content[0].text == first.content[0].text and message.id != first.id  # type: ignore[union-attr]
    assert message.model == "claude-sonnet-4-5" and message.usage.output_tokens == first.usage.output_tokens
    with client.messages.stream(**ask) as stream:  # type: ignore[arg-type]
        assert "".join(stream.text_stream) == first.content[0].text  # type: ignore[union-attr]
    assert len(emulator.stats()["requests"]) == 1
    # The very same request on the Responses API (the same model request) is another entry: an
    # answer serves only the API it was asked on.
    same = {"model": "claude-sonnet-4-5", "max_output_tokens": 500, "input": "Cache me"}
    answer = httpx.post(f"{client.base_url}/v1/responses", json=same, headers={"x-api-key": CLIENT_TOKEN}, timeout=10)
    assert (answer.status_code, answer.headers["X-HPN-Cache"]) == (200, "MISS") and answer.json()["object"] == "response"
    assert len(emulator.stats()["requests"]) == 2
