"""OpenAI's Responses API (`POST /v1/responses`) end to end: the official openai SDK's
`client.responses.create` / `client.responses.stream` through a real mitmdump against the
Gemini emulator, as its users write them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
from procs import Router
from pydantic import BaseModel

FLASH = "gemini-2.5-flash"
GEMINI3 = "gemini-3-flash-preview"  # the emulator checks thought signatures come back on calls
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def test_plain_create(client: openai.OpenAI) -> None:
    response = client.responses.create(model=FLASH, input="Say hi")
    assert response.status == "completed" and response.object == "response" and response.id.startswith("resp_")
    assert response.model == FLASH
    assert response.output_text.startswith(f"Hello from {FLASH}! You said: Say hi")
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_instructions_reach_gemini_as_the_system_prompt(client: openai.OpenAI, router: Router) -> None:
    response = client.responses.create(model=FLASH, instructions="Answer in French.", input=[{"role": "user", "content": "hi"}])
    assert response.instructions == "Answer in French."
    assert response.output_text.endswith("You said: hi")


def test_a_function_tool_round_trip(client: openai.OpenAI) -> None:
    history: list = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.responses.create(model=GEMINI3, input=history, tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather"] and json.loads(calls[0].arguments)["city"]
    assert first.status == "completed"
    history += [c.model_dump(exclude_none=True) for c in calls]  # as the SDK docs show: output items go back as input
    history.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"temp": 21}'})
    second = client.responses.create(model=GEMINI3, input=history, tools=[WEATHER])
    assert second.output_text == 'Tool results received: [{"temp":21}]'


def test_streaming_events_in_openai_order_with_usage_at_the_end(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model=FLASH, input="Tell me a story [[long]]", stream=True))
    kinds = [e.type for e in events]
    assert [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]] == TEXT_EVENTS  # deltas repeat
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1].response
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert completed.output_text == deltas and len(deltas) > 200
    assert completed.usage is not None and completed.usage.output_tokens > 0 and isinstance(completed.usage.input_tokens, int)


def test_stream_helper_with_a_tool_call(client: openai.OpenAI) -> None:
    with client.responses.stream(model=GEMINI3, input="Weather in Paris?", tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.done" in kinds and kinds[-1] == "response.completed"
    assert [item.type for item in final.output] == ["function_call"] and final.output[0].name == "get_weather"


class Weather(BaseModel):
    city: str
    celsius: int


def test_json_schema_text_format(client: openai.OpenAI) -> None:
    schema = Weather.model_json_schema() | {"additionalProperties": False}
    response = client.responses.create(
        model=FLASH,
        input="Weather in Paris as JSON",
        text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}},
    )
    Weather.model_validate_json(response.output_text)
    parsed = client.responses.parse(model=FLASH, input="Weather in Paris", text_format=Weather)
    assert isinstance(parsed.output_parsed, Weather)


def test_length_limit_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model=FLASH, input="Say it all [[max_tokens]]")
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_value"),
        ({"previous_response_id": "resp_123"}, "previous_response_id", "previous_response_not_found"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].name", None),
        ({"temperature": 3}, "temperature", None),
    ],
)
def test_what_the_router_cannot_do_is_a_400_naming_it(client: openai.OpenAI, fields: dict, param: str, code: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=FLASH, input="hi", **fields)
    body = err.value.body
    assert isinstance(body, dict) and body["param"] == param and body["type"] == "invalid_request_error"
    if code:
        assert body["code"] == code


def test_a_failed_upstream_is_an_openai_error(router: Router, emulator) -> None:
    # An unknown Gemini model: Gemini's 404 comes back in OpenAI's envelope, not Google's.
    answer = httpx.post(
        router.base_url + "/responses",
        json={"model": "gemini-no-such-model", "input": "hi"},
        headers={"authorization": "Bearer sk-client-token-not-a-gemini-key"},
        timeout=30,
    )
    assert answer.status_code == 404 and set(answer.json()["error"]) >= {"message", "type", "code"}


def test_the_readme_example_runs(router: Router) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- tested: responses-python -->\s*```python\n(.*?)\n```", text, re.S)
    assert match, "README.md has no example marked responses-python"
    code = match.group(1).replace("127.0.0.1:8080", f"127.0.0.1:{router.port}")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("OPENAI_") and "PROXY" not in k.upper()}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "You said: What is the capital of France?" in result.stdout and "You said: And of Italy?" in result.stdout


def test_previous_response_id_continues_the_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model=FLASH, instructions="Be brief.", input="My name is Ada.")
    assert first.store is True
    follow_up = client.responses.create(model=FLASH, input="What is my name?", previous_response_id=first.id)
    alone = client.responses.create(model=FLASH, input="What is my name?")
    assert follow_up.previous_response_id == first.id and follow_up.output_text.endswith("You said: What is my name?")
    # The emulator counts every turn it is sent: the follow-up carried the first turn and its answer.
    assert follow_up.usage is not None and alone.usage is not None and first.usage is not None
    answer_tokens = first.usage.output_tokens - first.usage.output_tokens_details.reasoning_tokens
    assert follow_up.usage.input_tokens > alone.usage.input_tokens + answer_tokens


def test_a_tool_loop_continues_from_the_stored_call(client: openai.OpenAI) -> None:
    # Gemini 3: the emulator rejects a function call that comes back without its thought signature.
    first = client.responses.create(model=GEMINI3, input="Weather in Paris?", tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}
    second = client.responses.create(model=GEMINI3, input=[output], tools=[WEATHER], previous_response_id=first.id)
    assert second.status == "completed" and second.output_text.startswith("Tool results received")


def test_a_stored_response_is_retrieved_and_deleted(client: openai.OpenAI) -> None:
    created = client.responses.create(model=FLASH, input="Keep this")
    retrieved = client.responses.retrieve(created.id)
    assert retrieved.id == created.id and retrieved.output_text == created.output_text
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_never_made")


def test_store_false_cannot_be_continued(client: openai.OpenAI) -> None:
    created = client.responses.create(model=FLASH, input="Forget this", store=False)
    assert created.store is False
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=FLASH, input="Again", previous_response_id=created.id)
    assert isinstance(err.value.body, dict) and err.value.body["code"] == "previous_response_not_found"


def test_another_client_token_can_neither_read_nor_continue_a_response(make_router) -> None:
    tokens = ["token-of-alice-0123456789", "token-of-bob-0123456789ab"]
    router = make_router(config={"server": {"client_tokens": tokens}})
    alice, bob = (openai.OpenAI(base_url=router.base_url, api_key=token, max_retries=0) for token in tokens)
    created = alice.responses.create(model=FLASH, input="Alice's secret")
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as err:
        bob.responses.create(model=FLASH, input="What did she say?", previous_response_id=created.id)
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "previous_response_id"
    assert alice.responses.retrieve(created.id).output_text == created.output_text


def test_a_streamed_response_is_stored_and_continued(client: openai.OpenAI) -> None:
    with client.responses.stream(model=FLASH, input="Stream and keep this") as stream:
        final = stream.get_final_response()
    assert final.store is True and client.responses.retrieve(final.id).output_text == final.output_text
    follow_up = client.responses.create(model=FLASH, input="Go on", previous_response_id=final.id)
    assert follow_up.previous_response_id == final.id and follow_up.status == "completed"


# --- flash cache ----------------------------------------------------------------------


def test_an_identical_request_is_answered_from_the_cache_streamed_or_not_and_stays_continuable(
    client: openai.OpenAI, emulator, router: Router
) -> None:
    ask = {"model": FLASH, "instructions": "Be brief.", "input": "Cache me"}
    first = client.responses.with_raw_response.create(**ask)
    second = client.responses.with_raw_response.create(**ask)
    assert (first.headers["X-HPN-Cache"], second.headers["X-HPN-Cache"]) == ("MISS", "HIT")
    assert len(emulator.stats()["requests"]) == 1  # the hit asked no key
    a, b = first.parse(), second.parse()
    assert b.output_text == a.output_text and b.id != a.id and b.usage.total_tokens == a.usage.total_tokens
    with client.responses.stream(**ask) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_response()
    assert kinds == TEXT_EVENTS and streamed.output_text == a.output_text and streamed.id not in (a.id, b.id)
    assert len(emulator.stats()["requests"]) == 1
    # A hit is stored like any response (store is on), so a conversation goes on from it.
    assert client.responses.retrieve(b.id).output_text == a.output_text
    follow = client.responses.create(model=FLASH, input="And then?", previous_response_id=b.id)
    assert "And then?" in follow.output_text
    fresh = client.responses.with_raw_response.create(**ask, extra_headers={"Cache-Control": "no-cache"})
    assert fresh.headers["X-HPN-Cache"] == "BYPASS" and len(emulator.stats()["requests"]) == 3
