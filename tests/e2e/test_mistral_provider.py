"""Mistral keys in the pool, end to end: the official OpenAI SDK against a real mitmdump whose
Mistral-routed requests go to the strict Mistral emulator (which refuses what La Plateforme
refuses: unknown fields, tool ids that are not 9 letters or digits, a user turn after a tool turn)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest
from procs import KEYS, MISTRAL_KEYS, SERVED_BY, WEATHER, Emulator, Router, client_for, provider_env, start_router


def start(tmp: Path, gemini: Emulator, mistral: Emulator) -> Router:
    env = provider_env("mistral", mistral, MISTRAL_KEYS)
    config = {"models": {"gpt-4o": "mistral/mistral-small-latest"}, "key_pool": {"retry_backoff_ms": 0}}
    return start_router(tmp, keys=KEYS[:2], gemini_url=gemini.url, config=config, env=env)


@pytest.fixture(scope="module")
def shared_router(emulator: Emulator, mistral: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start(tmp_path_factory.mktemp("router"), emulator, mistral)
    yield router
    router.stop()


@pytest.fixture
def client(shared_router: Router, emulator: Emulator, mistral: Emulator) -> openai.OpenAI:
    emulator.reset()
    mistral.reset()
    return client_for(shared_router)


def test_chat_goes_to_mistral_and_says_so(client: openai.OpenAI, mistral: Emulator, emulator: Emulator) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hi"}], seed=3, max_completion_tokens=40, user="u1"
    )
    answer = raw.parse()
    assert raw.headers[SERVED_BY] == "mistral/mistral-small-latest"
    assert answer.model == "gpt-4o" and answer.choices[0].message.content and answer.usage.total_tokens > 0
    assert [r["status"] for r in mistral.stats()["requests"]] == [200] and emulator.stats()["requests"] == []


def test_the_request_log_line_says_who_served_it_and_what_it_cost(client: openai.OpenAI, shared_router: Router) -> None:
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Log me"}], extra_headers={"X-Request-Id": "trace-mistral-log-1"}
    )
    lines = [json.loads(line) for line in shared_router.log().splitlines() if line.startswith("{") and '"trace-mistral-log-1"' in line]
    [line] = [entry for entry in lines if entry.get("event") == "request"]
    assert {k: line[k] for k in ("endpoint", "model", "provider", "provider_model", "attempts", "status", "cache")} == {
        "endpoint": "chat",
        "model": "gpt-4o",
        "provider": "mistral",
        "provider_model": "mistral-small-latest",
        "attempts": 1,
        "status": 200,
        "cache": "miss",
    }
    assert line["key"] in ("mistral_1", "mistral_2") and line["client"] and line["latency_ms"] > 0
    assert line["input_tokens"] > 0 and line["output_tokens"] > 0
    assert Decimal(line["charged_usd"]) > 0 and Decimal(line["saved_usd"]) >= 0  # Mistral Small's list price, not free
    log = shared_router.log()
    assert all(key not in log and key[:12] not in log for key in MISTRAL_KEYS)


def test_the_model_list_holds_every_providers_models(client: openai.OpenAI, mistral: Emulator) -> None:
    owners = {model.id: model.owned_by for model in client.models.list()}
    assert owners["mistral-small-latest"] == "mistralai" and owners["mistral-embed"] == "mistralai"
    assert any(owner == "google" and model.startswith("gemini-") for model, owner in owners.items())
    assert owners["gpt-4o"] == "hpn-router"  # the alias
    assert [r["path"] for r in mistral.stats()["requests"]] in ([], ["/v1/models"])  # at most once: the list is cached


def test_a_stream_from_mistral(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="mistral-small-latest", messages=[{"role": "user", "content": "Say hi"}], stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers[SERVED_BY] == "mistral/mistral-small-latest"
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_a_tool_round_trip_with_openai_style_ids_in_the_history(client: openai.OpenAI, mistral: Emulator) -> None:
    first = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER], tool_choice="required"
    )
    [call] = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and len(call.id) == 9 and call.id.isalnum()
    history = [
        {"role": "user", "content": "Weather in Rome, earlier?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_from_another_provider",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_from_another_provider", "content": "25C"},
        {"role": "user", "content": "And Paris?"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp": "18C"})},
    ]
    second = client.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])
    assert second.choices[0].message.content
    assert [r["status"] for r in mistral.stats()["requests"]] == [200, 200]


def test_a_model_without_keys_of_its_provider_is_a_400(tmp_path: Path, emulator: Emulator) -> None:
    emulator.reset()  # earlier tests' requests (the model list) are not this one's
    router = start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url)
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            client_for(router).chat.completions.create(model="codestral-latest", messages=[{"role": "user", "content": "Hi"}])
    finally:
        router.stop()
    assert "no mistral keys" in caught.value.message and emulator.stats()["requests"] == []


def test_a_429_rotates_to_the_next_mistral_key(tmp_path: Path, emulator: Emulator, mistral: Emulator) -> None:
    mistral.reset()
    mistral.set_key(0, "ok", ["rate_limit"])
    router = start(tmp_path, emulator, mistral)
    try:
        client = client_for(router)
        first = client.chat.completions.create(model="mistral-small-latest", messages=[{"role": "user", "content": "Hi"}])
        second = client.chat.completions.create(model="mistral-small-latest", messages=[{"role": "user", "content": "Again"}])
        log = router.log()
    finally:
        router.stop()
    statuses = [(r["key_index"], r["status"]) for r in mistral.stats()["requests"]]
    # The first key's 429 (Retry-After: 30) cools it: the second key serves both; nothing reached Gemini.
    assert first.choices[0].message.content and second.choices[0].message.content
    assert statuses == [(0, 429), (1, 200), (1, 200)]
    assert "Key rotation triggered" in log and "mistral_1" in log and emulator.stats()["requests"] == []
    for key in MISTRAL_KEYS:
        assert key not in log


def test_embeddings_with_mistral_embed(client: openai.OpenAI, mistral: Emulator) -> None:
    raw = client.embeddings.with_raw_response.create(model="mistral-embed", input=["one", "two"])
    answer = raw.parse()
    assert raw.headers[SERVED_BY] == "mistral/mistral-embed"
    assert [d.index for d in answer.data] == [0, 1] and len(answer.data[0].embedding) == 1024 and answer.usage.prompt_tokens > 0
    assert [r["status"] for r in mistral.stats()["requests"]] == [200]


def test_embeddings_beyond_one_mistral_request_go_in_batches(client: openai.OpenAI, mistral: Emulator) -> None:
    texts = ["x" * 2997 + f"{i:03d}" for i in range(30)]  # ~22,500 tokens: over the 16,384 one request may hold
    answer = client.embeddings.create(model="mistral-embed", input=texts, encoding_format="float")
    one = client.embeddings.create(model="mistral-embed", input=texts[17:18], encoding_format="float")
    assert [d.index for d in answer.data] == list(range(30)) and answer.data[17].embedding == one.data[0].embedding
    assert [r["status"] for r in mistral.stats()["requests"]] == [200, 200, 200]  # two batches, then the single input


def test_dimensions_mistral_embed_cannot_make_are_refused_before_sending(client: openai.OpenAI, mistral: Emulator) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="mistral-embed", input="hello", dimensions=256)
    assert refused.value.body["param"] == "dimensions" and "1024" in refused.value.body["message"]
    assert len(client.embeddings.create(model="mistral-embed", input="hello", dimensions=1024).data[0].embedding) == 1024
    assert [r["status"] for r in mistral.stats()["requests"]] == [200]


def test_the_responses_api_on_mistral_keys_with_a_tool_loop(client: openai.OpenAI, mistral: Emulator, emulator: Emulator) -> None:
    raw = client.responses.with_raw_response.create(model="mistral-small-latest", instructions="Be brief.", input="Say hi")
    response = raw.parse()
    assert raw.headers[SERVED_BY] == "mistral/mistral-small-latest"
    assert response.model == "mistral-small-latest" and response.status == "completed" and response.output_text
    assert response.usage is not None and response.usage.input_tokens > 0
    with client.responses.stream(model="gpt-4o", input="And again", previous_response_id=response.id) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    assert final.output_text and final.usage is not None and final.usage.total_tokens > 0
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}
    called = client.responses.create(model="gpt-4o", input="Weather in Paris?", tools=[tool], tool_choice="required")
    [call] = [item for item in called.output if item.type == "function_call"]
    answered = client.responses.create(
        model="gpt-4o",
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C"}],
        tools=[tool],
    )
    assert answered.output_text
    assert [r["status"] for r in mistral.stats()["requests"]] == [200] * 4 and emulator.stats()["requests"] == []


def test_the_messages_api_on_mistral_keys(shared_router: Router, mistral: Emulator, emulator: Emulator) -> None:
    mistral.reset()
    emulator.reset()
    claude = anthropic.Anthropic(base_url=shared_router.url, api_key="dummy-key")
    raw = claude.messages.with_raw_response.create(
        model="mistral-small-latest", max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "Say hi"}]
    )
    message = raw.parse()
    assert raw.headers[SERVED_BY] == "mistral/mistral-small-latest"
    assert message.model == "mistral-small-latest" and message.content[0].type == "text" and message.stop_reason == "end_turn"
    with claude.messages.stream(model="mistral-small-latest", max_tokens=100, messages=[{"role": "user", "content": "Again"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.usage.output_tokens > 0
    with pytest.raises(anthropic.BadRequestError, match="no token counter"):
        claude.messages.count_tokens(model="mistral-small-latest", messages=[{"role": "user", "content": "hi"}])
    assert [r["status"] for r in mistral.stats()["requests"]] == [200, 200] and emulator.stats()["requests"] == []
