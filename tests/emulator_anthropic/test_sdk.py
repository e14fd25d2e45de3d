"""The official `anthropic` SDK against the emulator over real HTTP: answers, streams, tools, typed errors.

The SDK is in the test extras (pyproject.toml); where it is not installed these tests are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from procs import start_anthropic_emulator

anthropic = pytest.importorskip("anthropic")

SCENARIO = Path(__file__).resolve().parents[2] / "configs" / "emulator" / "anthropic-test.yaml"
KEYS = [k["key"] for k in yaml.safe_load(SCENARIO.read_text())["keys"]]
GOOD, OTHER_ORG, SCRIPTED, REVOKED, NO_CREDIT = 0, 1, 5, 6, 7
TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    emu = start_anthropic_emulator(yaml.safe_load(SCENARIO.read_text()), tmp_path_factory.mktemp("anthropic"))
    yield emu
    emu.stop()


def client(emulator: object, index: int = GOOD, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEYS[index], base_url=emulator.url, max_retries=max_retries)  # type: ignore[attr-defined]


def test_message_and_stream(emulator: object) -> None:
    sdk = client(emulator)
    message = sdk.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello from claude-haiku-4-5-20251001! You said: hi"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    with sdk.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == message.content[0].text and final.usage.output_tokens == message.usage.output_tokens


def test_tool_round_trip_with_thinking(emulator: object) -> None:
    sdk = client(emulator)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    history = [{"role": "user", "content": "weather in Paris?"}]
    with sdk.messages.stream(model="claude-sonnet-4-5", max_tokens=2048, thinking=thinking, tools=[TOOL], messages=history) as stream:
        first = stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
    call = first.content[1]
    history += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=2048, thinking=thinking, tools=[TOOL], messages=history)
    assert second.content[-1].text == 'Tool results received: ["sunny"]'
    history[1]["content"][0]["thinking"] = "edited"  # a modified thinking block is refused
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature` in `thinking` block"):
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=2048, thinking=thinking, tools=[TOOL], messages=history)


def test_typed_errors(emulator: object) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        client(emulator, REVOKED).messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError, match="credit balance is too low"):
        client(emulator, NO_CREDIT).messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError, match="temperature: Input should be less than or equal to 1"):
        client(emulator).messages.create(
            model="claude-haiku-4-5", max_tokens=10, temperature=1.5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.NotFoundError):
        client(emulator).models.retrieve("claude-9")


def test_the_sdk_retries_429_and_529_by_their_headers(emulator: object) -> None:
    emulator.reset()  # type: ignore[attr-defined]
    emulator.set_key(OTHER_ORG, "ok", ["overloaded", "rate_limit"])  # type: ignore[attr-defined]
    sdk = client(emulator, OTHER_ORG, max_retries=2)
    seen: list[float] = []
    original = sdk._calculate_retry_timeout

    def record(*args: object, **kw: object) -> float:
        seen.append(original(*args, **kw))  # type: ignore[arg-type]
        return 0.0  # do not actually wait

    sdk._calculate_retry_timeout = record  # type: ignore[method-assign]
    message = sdk.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "x"}])
    assert message.stop_reason == "end_turn" and seen == [2.0, 2.0]  # retry-after-ms of the scripted errors


def test_stream_error_after_200_surfaces_as_an_overloaded_error(emulator: object) -> None:
    emulator.set_key(OTHER_ORG, "ok", ["stream_error"])  # type: ignore[attr-defined]
    sdk = client(emulator, OTHER_ORG)
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with sdk.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
            for _ in stream:
                pass


def test_models_pagination(emulator: object) -> None:
    ids = [m.id for m in client(emulator).models.list(limit=2)]  # auto-paginates with after_id
    assert ids[0] == "claude-opus-4-5-20251101" and "claude-test-extra" in ids and len(ids) == len(set(ids)) == 7
