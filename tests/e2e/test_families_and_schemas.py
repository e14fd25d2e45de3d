"""Issue 9 items 6 and 9 end to end, with the official OpenAI SDK against the strict emulator.

Item 6: `reasoning_effort` works whatever the moving alias behind the default model (`gpt-4o` ->
`gemini-flash-latest`) points at: the standard emulator treats the aliases as Gemini 3, a
second one treats them as Gemini 2.5 (which refuses thinkingLevel, as Gemini does).
Item 9: schemas Gemini's OpenAPI subset cannot express (recursion, tuples) reach Gemini whole,
as JSON Schema, so the SDK's own `parse()` validation accepts what comes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from procs import KEYS, client_for, scenario, start_emulator, start_router
from pydantic import BaseModel

EFFORTS = ["none", "minimal", "low", "medium", "high"]


class Node(BaseModel):
    """A tree: recursion through `$ref`, which the OpenAPI subset cannot express."""

    label: str
    children: list[Node]


class Segment(BaseModel):
    """A tuple: `prefixItems`, which the subset cannot express either."""

    name: str
    span: tuple[int, str]


@pytest.fixture(scope="module")
def aliases_as_25(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """An emulator where the `-latest` aliases are Gemini 2.5 models, and a router in front of it."""
    tmp = tmp_path_factory.mktemp("aliases-25")
    emu = start_emulator(scenario(gemini3_models=["gemini-3*"]), tmp)
    started = start_router(tmp, keys=KEYS[:2], gemini_url=emu.url)
    yield client_for(started)
    started.stop()
    emu.stop()


# --- item 6: reasoning_effort on every model name ----------------------------------------------


@pytest.mark.parametrize("effort", EFFORTS)
def test_reasoning_effort_on_the_default_model_when_the_alias_is_gemini3(client, effort):
    answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Think"}], reasoning_effort=effort)
    assert answer.choices[0].message.content
    assert answer.usage.completion_tokens_details.reasoning_tokens > 0  # Gemini 3 always thinks


@pytest.mark.parametrize("effort", EFFORTS)
def test_reasoning_effort_on_the_default_model_when_the_alias_is_gemini25(aliases_as_25, effort):
    answer = aliases_as_25.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Think"}], reasoning_effort=effort)
    assert answer.choices[0].message.content
    thought = answer.usage.completion_tokens_details.reasoning_tokens
    assert (thought == 0) if effort == "none" else (thought > 0)


@pytest.mark.parametrize("model", ["gemini-flash-lite-latest", "gemini-2.5-pro", "gemini-3.1-pro-preview"])
def test_reasoning_effort_none_and_high_on_other_names(aliases_as_25, model):
    for effort in ("none", "high"):
        answer = aliases_as_25.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], reasoning_effort=effort)
        assert answer.choices[0].message.content


@pytest.mark.parametrize("alias_family", ["gemini3", "gemini25"])
def test_penalties_on_an_alias_are_dropped_and_the_answer_says_so(client, aliases_as_25, alias_family):
    chosen = client if alias_family == "gemini3" else aliases_as_25
    raw = chosen.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], presence_penalty=0.5, frequency_penalty=0.2
    )
    assert raw.http_response.status_code == 200
    assert raw.headers["x-hpn-ignored-params"] == "presence_penalty, frequency_penalty"
    with chosen.chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], presence_penalty=0.5, stream=True
    ) as streamed:
        assert streamed.headers["x-hpn-ignored-params"] == "presence_penalty"
        assert any(chunk.choices and chunk.choices[0].delta.content for chunk in streamed.parse())


def test_penalties_on_a_gemini25_model_are_sent(client):
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Hi"}], presence_penalty=0.5
    )
    assert raw.http_response.status_code == 200
    assert "x-hpn-ignored-params" not in raw.headers


def test_tool_loop_on_an_alias_keeps_working_whatever_it_points_at(client, aliases_as_25):
    """A client that kept only the call id (no signature) still gets its second turn answered:
    unknown families get Google's placeholder signature, which both families accept."""
    lookup = {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    tools = [{"type": "function", "function": lookup}]
    for chosen in (client, aliases_as_25):
        unsigned = {"id": "call_plain", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
        messages = [
            {"role": "user", "content": "Look it up"},
            {"role": "assistant", "tool_calls": [unsigned]},
            {"role": "tool", "tool_call_id": "call_plain", "content": "found"},
        ]
        answer = chosen.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
        assert "found" in answer.choices[0].message.content


# --- item 9: schemas the OpenAPI subset cannot express ----------------------------------------


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-flash-preview", "gpt-4o"])
def test_parse_with_a_recursive_pydantic_tool(client, model):
    completion = client.chat.completions.parse(
        model=model,
        messages=[{"role": "user", "content": "Build a tree"}],
        tools=[openai.pydantic_function_tool(Node)],
        tool_choice="required",
    )
    (call,) = completion.choices[0].message.tool_calls
    assert isinstance(call.function.parsed_arguments, Node)


def test_parse_with_a_tuple_tool(client):
    completion = client.chat.completions.parse(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Segment it"}],
        tools=[openai.pydantic_function_tool(Segment)],
        tool_choice="required",
    )
    (call,) = completion.choices[0].message.tool_calls
    segment = call.function.parsed_arguments
    assert isinstance(segment, Segment) and isinstance(segment.span[0], int) and isinstance(segment.span[1], str)


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-flash-preview"])
def test_parse_with_a_recursive_response_format(client, model):
    completion = client.chat.completions.parse(model=model, messages=[{"role": "user", "content": "A tree"}], response_format=Node)
    tree = completion.choices[0].message.parsed
    assert isinstance(tree, Node) and tree.label


def test_a_described_recursive_reference_is_sent_in_a_form_gemini_takes(client):
    """`{"$ref": ..., "description": ...}` is common in hand-written schemas; Gemini's JSON Schema
    refuses keywords beside `$ref`, so the router spells it `anyOf: [{"$ref": ...}]`."""
    tree = {
        "type": "object",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["label", "children"],
            }
        },
        "properties": {"root": {"$ref": "#/$defs/Node", "description": "The root node"}},
        "required": ["root"],
    }
    answer = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Save a tree"}],
        tools=[{"type": "function", "function": {"name": "save_tree", "parameters": tree}}],
        tool_choice="required",
        response_format={"type": "json_schema", "json_schema": {"name": "tree", "schema": tree}},
    )
    (call,) = answer.choices[0].message.tool_calls
    assert Node.model_validate(json.loads(call.function.arguments)["root"]).label
