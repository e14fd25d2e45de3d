"""Mistral's official SDK (mistralai 2.x) against the emulator started as a process, as the
end-to-end tests will: chat, streaming, tools, embeddings, models, and the traps as SDK errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from procs import Emulator, start_mistral_emulator

client_module = pytest.importorskip("mistralai.client", reason="the test extras install mistralai")
Mistral = client_module.Mistral
SDKError = client_module.errors.SDKError
HTTPValidationError = client_module.errors.HTTPValidationError
KEY = "emuMistralSdkKey0000000000000001"
MODEL = "mistral-small-latest"
WEATHER = {
    "type": "function",
    "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_mistral_emulator({"keys": [{"key": KEY, "retry_after": 4}]}, tmp_path_factory.mktemp("mistral"))
    yield emu
    emu.stop()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[object]:
    emulator.reset()
    with Mistral(api_key=KEY, server_url=emulator.url) as sdk:
        yield sdk


def test_chat(client) -> None:  # type: ignore[no-untyped-def]
    response = client.chat.complete(model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=50, random_seed=1)
    assert response.choices[0].message.content == "Echo: hello"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.total_tokens > 0


def test_stream(client) -> None:  # type: ignore[no-untyped-def]
    events = list(client.chat.stream(model=MODEL, messages=[{"role": "user", "content": "one two three four"}]))
    text = "".join(e.data.choices[0].delta.content or "" for e in events)
    assert text == "Echo: one two three four"
    assert events[-1].data.choices[0].finish_reason == "stop" and events[-1].data.usage is not None


def test_tool_round_trip(client) -> None:  # type: ignore[no-untyped-def]
    messages: list[dict] = [{"role": "user", "content": "weather?"}]
    first = client.chat.complete(model=MODEL, messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert len(call.id) == 9 and call.function.name == "weather"
    messages += [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "weather", "arguments": call.function.arguments}}],
        },
        {"role": "tool", "tool_call_id": call.id, "name": "weather", "content": "sunny"},
    ]
    second = client.chat.complete(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Tool said: sunny"


def test_embeddings_and_models(client) -> None:  # type: ignore[no-untyped-def]
    embedded = client.embeddings.create(model="mistral-embed", inputs=["a", "b"])
    assert [len(d.embedding) for d in embedded.data] == [1024, 1024]
    assert "mistral-embed" in [m.id for m in client.models.list().data]


def test_openai_style_tool_ids_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_abc123", "type": "function", "function": {"name": "weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_abc123", "content": "sunny"},
    ]
    with pytest.raises(SDKError) as caught:
        client.chat.complete(model=MODEL, messages=messages)
    assert caught.value.status_code == 400 and '"code":"3280"' in caught.value.body


def test_a_user_after_a_tool_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "abcDEF123", "content": "sunny"},
        {"role": "user", "content": "thanks"},
    ]
    with pytest.raises(SDKError) as caught:
        client.chat.complete(model=MODEL, messages=messages)
    assert caught.value.status_code == 400 and '"code":"3230"' in caught.value.body


def test_a_422_parses_as_the_sdks_validation_error(client) -> None:  # type: ignore[no-untyped-def]
    # The SDK's own models cannot carry an unknown field; an empty message list reaches the
    # same Pydantic layer, and the SDK reads the 422 as its HTTPValidationError.
    with pytest.raises(HTTPValidationError) as caught:
        client.chat.complete(model=MODEL, messages=[])
    assert caught.value.status_code == 422
    # Like the real service, the detail list sits under `message`, so the SDK's typed `detail`
    # stays empty: a client has to read the raw body (the router's parser must be tolerant).
    assert caught.value.data.detail is None and '"type":"too_short"' in caught.value.body


def test_scripted_429_reaches_the_sdk_with_retry_after(client, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_key(0, "ok", ["rate_limit"])
    with pytest.raises(SDKError) as caught:
        client.chat.complete(model=MODEL, messages=[{"role": "user", "content": "x"}], retries=None)
    assert caught.value.status_code == 429
    assert caught.value.raw_response.headers["retry-after"] == "4"


def test_bad_key_is_a_401(emulator: Emulator) -> None:
    with Mistral(api_key="wrong", server_url=emulator.url) as sdk, pytest.raises(SDKError) as caught:
        sdk.models.list()
    assert caught.value.status_code == 401
