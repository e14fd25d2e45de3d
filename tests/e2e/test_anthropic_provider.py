"""Anthropic keys in the pool, end to end: the official OpenAI and anthropic SDKs against a real
mitmdump whose Claude-routed requests go to the strict Anthropic emulator (which refuses what
api.anthropic.com refuses: a missing max_tokens, a system role, roles out of order, empty text,
tool results that do not lead their turn, a temperature above 1)."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from procs import (
    ANTHROPIC_KEYS,
    KEYS,
    SERVED_BY,
    WEATHER,
    Emulator,
    Router,
    client_for,
    provider_env,
    start_anthropic_emulator,
    start_router,
)
from prometheus_client.parser import text_string_to_metric_families

PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")).decode()


@pytest.fixture(scope="module")
def claude_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    keys = [{"key": k, "organization": org, "retry_after": 30} for k, org in zip(ANTHROPIC_KEYS, ["org-a", "org-a", "org-b"], strict=True)]
    # Extra models put the listing on two of the pages the router asks for (100 models a page).
    extras = [f"claude-e2e-extra-{i:03d}" for i in range(100)]
    emu = start_anthropic_emulator({"keys": keys, "models": extras}, tmp_path_factory.mktemp("anthropic"))
    yield emu
    emu.stop()


def start(tmp: Path, gemini: Emulator, claude_emu: Emulator) -> Router:
    env = provider_env("anthropic", claude_emu, ANTHROPIC_KEYS)
    config = {"models": {"gpt-5": "anthropic/claude-sonnet-4-5"}, "key_pool": {"retry_backoff_ms": 0, "max_wait_seconds": 0}}
    return start_router(tmp, keys=KEYS[:1], gemini_url=gemini.url, config=config, env=env)


@pytest.fixture(scope="module")
def shared_router(emulator: Emulator, claude_emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start(tmp_path_factory.mktemp("router"), emulator, claude_emu)
    yield router
    router.stop()


@pytest.fixture
def client(shared_router: Router, emulator: Emulator, claude_emu: Emulator) -> openai.OpenAI:
    emulator.reset()
    claude_emu.reset()
    return client_for(shared_router)


@pytest.fixture
def fresh(tmp_path: Path, emulator: Emulator, claude_emu: Emulator) -> Iterator[Router]:
    """A router whose pool starts clean, for the tests that change key states."""
    emulator.reset()
    claude_emu.reset()
    router = start(tmp_path, emulator, claude_emu)
    yield router
    router.stop()


def statuses(emu: Emulator) -> list[tuple[int, int]]:
    return [(r["key_index"], r["status"]) for r in emu.stats()["requests"]]


def hi(client: openai.OpenAI, text: str = "Say hi") -> str:
    answer = client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": text}])
    return answer.choices[0].message.content or ""


def test_chat_goes_to_anthropic_and_says_so(client: openai.OpenAI, claude_emu: Emulator, emulator: Emulator) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
        temperature=1.5,  # OpenAI's range; Anthropic's ends at 1
        seed=3,
    )
    answer = raw.parse()
    assert raw.headers[SERVED_BY] == "anthropic/claude-sonnet-4-5" and raw.headers["x-hpn-ignored-params"] == "seed"
    assert answer.model == "gpt-5" and answer.choices[0].message.content and answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    [request] = claude_emu.stats()["requests"]
    assert request["status"] == 200 and request["auth"] == "x-api-key" and request["version"] == "2023-06-01"
    assert emulator.stats()["requests"] == []


def test_a_stream_from_anthropic(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "Say hi"}], stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers[SERVED_BY] == "anthropic/claude-haiku-4-5"
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text and finishes == ["stop"] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert {c.model for c in chunks} == {"claude-haiku-4-5"}


def test_a_tool_round_trip_streamed_then_answered(client: openai.OpenAI, claude_emu: Emulator) -> None:
    stream = client.chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER], tool_choice="required", stream=True
    )
    calls = [call for chunk in stream if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    [call] = calls
    assert call.id.startswith("toolu_") and call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C"},
        {"role": "user", "content": "Thanks; is that warm?"},
    ]
    second = client.chat.completions.create(model="gpt-5", messages=history, tools=[WEATHER], parallel_tool_calls=False)
    assert second.choices[0].message.content and second.choices[0].finish_reason == "stop"
    assert [status for _, status in statuses(claude_emu)] == [200, 200]


def test_json_schema_and_images(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": False}
    answer = client.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Name the animal in these"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "animal", "schema": schema, "strict": True}},
    )
    assert isinstance(json.loads(answer.choices[0].message.content or "")["name"], str)


def test_an_anthropic_alias_without_anthropic_keys_is_a_400_and_claude_names_stay_on_gemini(tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset()
    router = start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, config={"models": {"gpt-5": "anthropic/claude-sonnet-4-5"}})
    try:
        client = client_for(router)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "Hi"}])
        raw = client.chat.completions.with_raw_response.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}])
    finally:
        router.stop()
    assert "no anthropic keys" in caught.value.message
    assert raw.headers[SERVED_BY].startswith("gemini/") and raw.parse().model == "claude-sonnet-4-5"


def test_a_429_cools_the_whole_organization_and_a_key_of_another_serves(fresh: Router, claude_emu: Emulator) -> None:
    client = client_for(fresh)
    for n in range(3):  # each key answers once: the router learns its organization
        assert hi(client, f"warm up {n}")
    assert sorted(k for k, _ in statuses(claude_emu)) == [0, 1, 2]
    claude_emu.set_key(0, "rate_limit")
    for n in range(4):
        assert hi(client, f"after {n}")
    after = statuses(claude_emu)[3:]
    first_429 = after.index((0, 429))
    # Key 0's 429 (retry-after 30) cooled key 1 too (same organization, never tried again); key 2 serves.
    assert after.count((0, 429)) == 1 and all(entry == (2, 200) for entry in after[first_429 + 1 :])
    assert len(after[first_429 + 1 :]) >= 2
    log = fresh.log()
    assert "Key rotation triggered" in log and all(key not in log for key in ANTHROPIC_KEYS)


def test_a_401_disables_the_key_and_a_529_retries_elsewhere_without_penalty(fresh: Router, claude_emu: Emulator) -> None:
    claude_emu.set_key(0, "invalid")
    claude_emu.set_key(1, "ok", ["overloaded"])
    client = client_for(fresh)
    for n in range(6):
        assert hi(client, f"request {n}")
    seen = statuses(claude_emu)
    assert seen.count((0, 401)) == 1 and (0, 200) not in seen  # disabled after its one 401
    assert seen.count((1, 529)) == 1 and (1, 200) in seen  # overloaded once, then served again: no cooldown
    assert "anthropic_1" in fresh.log() and ANTHROPIC_KEYS[0] not in fresh.log()


def test_the_anthropic_sdk_on_messages_with_anthropic_keys(shared_router: Router, claude_emu: Emulator, emulator: Emulator) -> None:
    claude_emu.reset()
    emulator.reset()
    claude = anthropic.Anthropic(base_url=shared_router.url, api_key="sk-ant-client-token", max_retries=0)
    tool = {"name": "get_weather", "description": "Weather", "input_schema": WEATHER["function"]["parameters"]}  # type: ignore[index]
    message = claude.messages.create(
        model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[tool]
    )
    [use] = [block for block in message.content if block.type == "tool_use"]
    assert message.model == "claude-sonnet-4-5" and message.stop_reason == "tool_use" and use.id.startswith("toolu_")
    follow = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [block.model_dump() for block in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]},
    ]
    with claude.messages.stream(model="claude-sonnet-4-5", max_tokens=200, messages=follow, tools=[tool]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn" and final.usage.input_tokens > 0
    counted = claude.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hello there"}])
    assert counted.input_tokens > 0
    assert [r["path"] for r in claude_emu.stats()["requests"]] == ["/v1/messages", "/v1/messages", "/v1/messages/count_tokens"]
    assert emulator.stats()["requests"] == []


def test_anthropics_stop_sequence_reaches_a_messages_client_plain_and_streamed(shared_router: Router, claude_emu: Emulator) -> None:
    """Anthropic names the stop sequence that ended the turn; a Messages client on Claude keys
    gets it as Anthropic sent it (Gemini and Mistral never say which, so theirs read end_turn)."""
    claude = anthropic.Anthropic(base_url=shared_router.url, api_key="sk-ant-client-token", max_retries=0)
    ask = {"model": "claude-sonnet-4-5", "max_tokens": 200, "messages": [{"role": "user", "content": "Stop at said"}]}
    message = claude.messages.create(**ask, stop_sequences=["said"])  # type: ignore[arg-type]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "said")
    assert "said" not in message.content[0].text  # type: ignore[union-attr]
    with claude.messages.stream(**ask, stop_sequences=["You"]) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "You")
    plain = claude.messages.create(**ask)  # type: ignore[arg-type]
    assert (plain.stop_reason, plain.stop_sequence) == ("end_turn", None)


def test_the_responses_api_on_anthropic_keys_with_a_tool_loop(client: openai.OpenAI, claude_emu: Emulator, emulator: Emulator) -> None:
    raw = client.responses.with_raw_response.create(model="claude-sonnet-4-5", instructions="Be brief.", input="Say hi")
    response = raw.parse()
    assert raw.headers[SERVED_BY] == "anthropic/claude-sonnet-4-5"
    assert response.model == "claude-sonnet-4-5" and response.status == "completed" and response.output_text
    with client.responses.stream(model="gpt-5", input="And again", previous_response_id=response.id) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    assert final.output_text and final.usage is not None and final.usage.input_tokens > 0
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}
    called = client.responses.create(model="gpt-5", input="Weather in Paris?", tools=[tool], tool_choice="required")
    [call] = [item for item in called.output if item.type == "function_call"]
    assert call.call_id.startswith("toolu_")
    answered = client.responses.create(
        model="gpt-5",
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C"}],
        tools=[tool],
    )
    assert answered.output_text
    assert [status for _, status in statuses(claude_emu)] == [200] * 4 and emulator.stats()["requests"] == []


def test_the_model_list_holds_anthropics_models_from_every_page(fresh: Router, claude_emu: Emulator) -> None:
    owners = {model.id: model.owned_by for model in client_for(fresh).models.list()}
    assert owners["claude-opus-4-5-20251101"] == "anthropic" and owners["claude-e2e-extra-099"] == "anthropic"
    assert owners["gemini-2.5-flash"] == "google"
    listings = [r for r in claude_emu.stats()["requests"] if r["path"] == "/v1/models"]
    assert [r["status"] for r in listings] == [200, 200] and {r["version"] for r in listings} == {"2023-06-01"}
    # Each provider's listing attempts count under that provider, not the first one asked.
    with urllib.request.urlopen(fresh.url + "/metrics", timeout=10) as scrape:
        families = text_string_to_metric_families(scrape.read().decode())
    samples = [s for f in families for s in f.samples if s.name == "hpn_upstream_attempts_total"]
    by_provider = {provider: sum(s.value for s in samples if s.labels["provider"] == provider) for provider in ("anthropic", "gemini")}
    assert by_provider == {"anthropic": 2, "gemini": 1} and {s.labels["outcome"] for s in samples} == {"ok"}


def test_anthropic_failing_to_list_leaves_it_out(fresh: Router, claude_emu: Emulator) -> None:
    for index in range(len(ANTHROPIC_KEYS)):
        claude_emu.set_key(index, "invalid")  # what a listing notices: the key itself
    owners = {model.id: model.owned_by for model in client_for(fresh).models.list()}
    assert "anthropic" not in owners.values() and owners["gemini-2.5-flash"] == "google"
    assert {r["status"] for r in claude_emu.stats()["requests"]} == {401}
