"""Issue 9 items 8 and 10 end to end, with the official OpenAI SDK against the emulator:
`logprobs` / `top_logprobs` come back as OpenAI logprobs (streamed too, and from the cache), and
requests with the deprecated `functions` / `function_call` get their call in that legacy shape.

This module's emulator enables logprobs on gemini-2.5-flash only; Gemini's own API refuses them on
other models, and so does the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from procs import Emulator, scenario, start_emulator

LOGPROBS_MODEL = "gemini-2.5-flash"
NO_LOGPROBS_MODEL = "gemini-2.5-pro"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Overrides conftest's: the same scenario, with logprobs enabled on one model."""
    emu = start_emulator(scenario(logprobs_models=[LOGPROBS_MODEL]), tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# --- logprobs ---------------------------------------------------------------------------------


def assert_logprobs_spell(tokens: list, text: str, top: int) -> None:
    assert tokens and "".join(t.token for t in tokens) == text
    for t in tokens:
        assert t.logprob < 0 and bytes(t.bytes).decode() == t.token
        assert len(t.top_logprobs) == len({a.token for a in t.top_logprobs}) == top
        assert [a.token for a in t.top_logprobs[:1]] == [t.token][:top]  # the chosen token is the likeliest


def test_logprobs_non_stream(client):
    answer = client.chat.completions.create(model=LOGPROBS_MODEL, messages=user("Hi, logprobs!"), logprobs=True, top_logprobs=2)
    choice = answer.choices[0]
    assert choice.message.content.endswith("You said: Hi, logprobs!")
    assert_logprobs_spell(choice.logprobs.content, choice.message.content, 2)
    assert choice.logprobs.refusal is None


def test_logprobs_stream_each_chunk_carries_its_own_tokens(client):
    stream = client.chat.completions.create(
        model=LOGPROBS_MODEL, messages=user("Stream logprobs [[long]]"), logprobs=True, top_logprobs=2, stream=True
    )
    chunks = [c for c in stream if c.choices]
    texts = [c.choices[0] for c in chunks if c.choices[0].delta.content]
    assert len(texts) >= 8
    for choice in texts:  # the tokens of a chunk spell that chunk's text
        assert "".join(t.token for t in choice.logprobs.content) == choice.delta.content
    tokens = [t for choice in texts for t in choice.logprobs.content]
    assert_logprobs_spell(tokens, "".join(c.delta.content for c in texts), 2)


def test_logprobs_without_top_logprobs_have_no_alternatives(client):
    answer = client.chat.completions.create(model=LOGPROBS_MODEL, messages=user("Just the tokens"), logprobs=True)
    choice = answer.choices[0]
    assert_logprobs_spell(choice.logprobs.content, choice.message.content, 0)
    plain = client.chat.completions.create(model=LOGPROBS_MODEL, messages=user("Just the tokens"))
    assert plain.choices[0].logprobs is None  # not asked: none (and not the cached answer above)


def test_a_streamed_cache_hit_replays_the_logprobs(client, router):
    body = {"model": LOGPROBS_MODEL, "messages": user("Cache my logprobs"), "logprobs": True, "top_logprobs": 3}
    first = client.chat.completions.create(**body)
    raw = client.chat.completions.with_raw_response.create(**body, stream=True)
    assert raw.headers["x-hpn-cache"] == "HIT"
    chunks = [c for c in raw.parse() if c.choices]
    tokens = [t for c in chunks if c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert [t.model_dump() for t in tokens] == [t.model_dump() for t in first.choices[0].logprobs.content]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": -1}, "top_logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": "yes"}, "logprobs"),
    ],
)
def test_bad_logprobs_are_an_openai_400_naming_the_param_and_never_forwarded(client, emulator, extra, param):
    before = len(emulator.stats()["requests"])
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=LOGPROBS_MODEL, messages=user("bad logprobs"), **extra)
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request_error"
    assert len(emulator.stats()["requests"]) == before


def test_a_model_without_logprobs_refuses_them_as_gemini_does(client, emulator):
    before = len(emulator.stats()["requests"])
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=NO_LOGPROBS_MODEL, messages=user("refused"), logprobs=True, top_logprobs=2)
    assert f"Logprobs is not enabled for models/{NO_LOGPROBS_MODEL}" in caught.value.message
    assert len(emulator.stats()["requests"]) == before + 1  # the client's mistake: no other key is tried


# --- legacy functions -------------------------------------------------------------------------


def test_legacy_functions_get_a_function_call_back(client):
    answer = client.chat.completions.create(
        model=LOGPROBS_MODEL, messages=user("Weather in Paris?"), functions=[WEATHER], function_call="auto"
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.tool_calls is None and choice.message.content is None
    assert choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "example"}


@pytest.mark.parametrize("model", [LOGPROBS_MODEL, "gemini-3-flash-preview"])
def test_legacy_functions_stream_name_then_arguments(client, model):
    stream = client.chat.completions.create(
        model=model, messages=user("Weather and time [[parallel]]"), functions=[WEATHER, TIME], function_call="auto", stream=True
    )
    chunks = [c for c in stream if c.choices]
    pieces = [c.choices[0].delta.function_call for c in chunks if c.choices[0].delta.function_call]
    assert all(c.choices[0].delta.tool_calls is None for c in chunks)
    assert pieces[0].name == "get_weather" and all(p.name is None for p in pieces[1:])
    assert json.loads("".join(p.arguments or "" for p in pieces)) == {"city": "example"}  # one call: the legacy shape holds one
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["function_call"]


def test_legacy_function_history_round_trip(client):
    """An assistant `function_call` and a `role: function` result translate back (Gemini 3 too)."""
    for model in (LOGPROBS_MODEL, "gemini-3-flash-preview"):
        messages = user(f"Weather in Rome on {model}?")
        first = client.chat.completions.create(model=model, messages=messages, functions=[WEATHER], function_call={"name": "get_weather"})
        call = first.choices[0].message.function_call
        messages += [
            {"role": "assistant", "content": None, "function_call": {"name": call.name, "arguments": call.arguments}},
            {"role": "function", "name": "get_weather", "content": '{"temp_c": 21}'},
        ]
        second = client.chat.completions.create(model=model, messages=messages, functions=[WEATHER])
        assert second.choices[0].finish_reason == "stop"
        assert second.choices[0].message.content == 'Tool results received: [{"temp_c":21}]'


def test_tools_requests_still_get_tool_calls(client):
    answer = client.chat.completions.create(
        model=LOGPROBS_MODEL, messages=user("Weather in Oslo?"), tools=[{"type": "function", "function": WEATHER}]
    )
    assert answer.choices[0].finish_reason == "tool_calls" and answer.choices[0].message.function_call is None


def test_a_streamed_cache_hit_keeps_the_legacy_shape(client):
    body = {"model": LOGPROBS_MODEL, "messages": user("Weather in Lima?"), "functions": [WEATHER]}
    first = client.chat.completions.create(**body)
    raw = client.chat.completions.with_raw_response.create(**body, stream=True)
    assert raw.headers["x-hpn-cache"] == "HIT"
    chunks = [c for c in raw.parse() if c.choices]
    pieces = [c.choices[0].delta.function_call for c in chunks if c.choices[0].delta.function_call]
    assert pieces[0].name == first.choices[0].message.function_call.name
    assert "".join(p.arguments or "" for p in pieces) == first.choices[0].message.function_call.arguments
    assert chunks[-1].choices[0].finish_reason == "function_call"
