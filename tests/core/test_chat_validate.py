"""validate_chat_request: every client mistake is a 400 naming its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hpn_router.core.chat_validate import parse_data_url, validate_chat_request
from hpn_router.core.errors import InvalidRequest

BASE: dict[str, Any] = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


def with_(**fields: Any) -> dict:
    body = copy.deepcopy(BASE)
    body.update(fields)
    return body


def msgs(*messages: dict) -> dict:
    return with_(messages=[{"role": "user", "content": "hi"}, *messages])


def user_parts(*parts: dict) -> dict:
    return with_(messages=[{"role": "user", "content": list(parts)}])


INVALID: list[tuple[str, object, str | None]] = [
    ("not an object", [BASE], None),
    ("no model", {"messages": BASE["messages"]}, "model"),
    ("empty model", with_(model=" "), "model"),
    ("model not str", with_(model=5), "model"),
    ("no messages", {"model": "m"}, "messages"),
    ("empty messages", with_(messages=[]), "messages"),
    ("messages not list", with_(messages={"role": "user"}), "messages"),
    ("message not object", with_(messages=["hi"]), "messages[0]"),
    ("unknown role", msgs({"role": "robot", "content": "x"}), "messages[1].role"),
    ("missing role", with_(messages=[{"content": "x"}]), "messages[0].role"),
    ("user content number", with_(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    ("user content null", with_(messages=[{"role": "user", "content": None}]), "messages[0].content"),
    ("system content null", with_(messages=[{"role": "system", "content": None}]), "messages[0].content"),
    (
        "system image part",
        with_(messages=[{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://a/b.png"}}]}]),
        "messages[0].content[0]",
    ),
    ("unknown user part", user_parts({"type": "video", "video": {}}), "messages[0].content[0].type"),
    ("text part not str", user_parts({"type": "text", "text": 1}), "messages[0].content[0].text"),
    ("ftp image", user_parts({"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}), "messages[0].content[0].image_url.url"),
    (
        "non-base64 data url",
        user_parts({"type": "image_url", "image_url": {"url": "data:image/png,abc"}}),
        "messages[0].content[0].image_url.url",
    ),
    (
        "audio bad format",
        user_parts({"type": "input_audio", "input_audio": {"data": "AAA", "format": "ogg"}}),
        "messages[0].content[0].input_audio.format",
    ),
    ("audio no data", user_parts({"type": "input_audio", "input_audio": {"format": "wav"}}), "messages[0].content[0].input_audio.data"),
    ("file_id unsupported", user_parts({"type": "file", "file": {"file_id": "file-abc"}}), "messages[0].content[0].file.file_id"),
    ("file without data", user_parts({"type": "file", "file": {"filename": "a.pdf"}}), "messages[0].content[0].file.file_data"),
    ("assistant null content no calls", msgs({"role": "assistant", "content": None}), "messages[1].content"),
    ("tool_calls not list", msgs({"role": "assistant", "tool_calls": CALL}), "messages[1].tool_calls"),
    ("tool call without id", msgs({"role": "assistant", "tool_calls": [{**CALL, "id": ""}]}), "messages[1].tool_calls[0].id"),
    ("tool call bad type", msgs({"role": "assistant", "tool_calls": [{**CALL, "type": "custom"}]}), "messages[1].tool_calls[0].type"),
    (
        "tool call no name",
        msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"arguments": "{}"}}]}),
        "messages[1].tool_calls[0].function.name",
    ),
    (
        "arguments bad json",
        msgs({"role": "assistant", "tool_calls": [CALL, {**CALL, "function": {"name": "f", "arguments": "{city: Paris}"}}]}),
        "messages[1].tool_calls[1].function.arguments",
    ),
    (
        "arguments not string",
        msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {"a": 1}}}]}),
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        "arguments json array",
        msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "[1]"}}]}),
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        # json.loads raises a plain ValueError (not JSONDecodeError) past Python's int digit limit.
        "arguments integer over 4300 digits",
        msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": '{"a": ' + "1" * 5000 + "}"}}]}),
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        "legacy function_call bad json",
        msgs({"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{"}}),
        "messages[1].function_call.arguments",
    ),
    ("tool without tool_call_id", msgs({"role": "tool", "content": "x"}), "messages[1].tool_call_id"),
    ("tool content object", msgs({"role": "tool", "tool_call_id": "c", "content": {"a": 1}}), "messages[1].content"),
    ("function without name", msgs({"role": "function", "content": "x"}), "messages[1].name"),
    ("temperature too high", with_(temperature=2.5), "temperature"),
    ("temperature string", with_(temperature="1"), "temperature"),
    ("temperature bool", with_(temperature=True), "temperature"),
    ("temperature nan", with_(temperature=float("nan")), "temperature"),
    ("top_p above 1", with_(top_p=1.5), "top_p"),
    ("n zero", with_(n=0), "n"),
    ("n nine", with_(n=9), "n"),
    ("n bool", with_(n=True), "n"),
    ("n float", with_(n=2.0), "n"),
    ("max_tokens zero", with_(max_tokens=0), "max_tokens"),
    ("max_completion_tokens negative", with_(max_completion_tokens=-5), "max_completion_tokens"),
    ("max_tokens bool", with_(max_tokens=True), "max_tokens"),
    ("seed float", with_(seed=1.5), "seed"),
    ("seed bool", with_(seed=False), "seed"),
    ("presence_penalty range", with_(presence_penalty=3), "presence_penalty"),
    ("frequency_penalty range", with_(frequency_penalty=-2.1), "frequency_penalty"),
    ("stream string", with_(stream="true"), "stream"),
    ("stream int", with_(stream=1), "stream"),
    ("stream_options list", with_(stream_options=[]), "stream_options"),
    ("include_usage string", with_(stream_options={"include_usage": "yes"}), "stream_options.include_usage"),
    ("stop number", with_(stop=5), "stop"),
    ("stop list of numbers", with_(stop=[1]), "stop"),
    ("stop too many", with_(stop=["a", "b", "c", "d", "e", "f"]), "stop"),
    ("response_format unknown", with_(response_format={"type": "xml"}), "response_format.type"),
    ("response_format string", with_(response_format="json"), "response_format.type"),
    ("json_schema missing", with_(response_format={"type": "json_schema"}), "response_format.json_schema"),
    (
        "json_schema schema not object",
        with_(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": "s"}}),
        "response_format.json_schema.schema",
    ),
    ("tools not list", with_(tools=TOOL), "tools"),
    ("tool custom type", with_(tools=[{"type": "custom", "custom": {"name": "x"}}]), "tools[0].type"),
    ("tool bad name", with_(tools=[{"type": "function", "function": {"name": "1abc"}}]), "tools[0].function.name"),
    ("tool name with space", with_(tools=[{"type": "function", "function": {"name": "get weather"}}]), "tools[0].function.name"),
    ("tool no function", with_(tools=[{"type": "function"}]), "tools[0].function"),
    (
        "tool params not object",
        with_(tools=[{"type": "function", "function": {"name": "f", "parameters": "x"}}]),
        "tools[0].function.parameters",
    ),
    ("duplicate tool", with_(tools=[TOOL, TOOL]), "tools[1].function.name"),
    ("tool_choice unknown", with_(tools=[TOOL], tool_choice="any"), "tool_choice"),
    ("tool_choice without tools", with_(tool_choice="required"), "tool_choice"),
    (
        "tool_choice unknown name",
        with_(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}),
        "tool_choice.function.name",
    ),
    ("tool_choice bad type", with_(tools=[TOOL], tool_choice={"type": "mcp"}), "tool_choice.type"),
    (
        "allowed_tools bad mode",
        with_(tools=[TOOL], tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "none", "tools": []}}),
        "tool_choice.allowed_tools.mode",
    ),
    ("reasoning_effort unknown", with_(reasoning_effort="extreme"), "reasoning_effort"),
    ("top_logprobs without logprobs", with_(top_logprobs=2), "top_logprobs"),
    ("top_logprobs range", with_(logprobs=True, top_logprobs=21), "top_logprobs"),
    ("logprobs string", with_(logprobs="yes"), "logprobs"),
    ("function_call without functions", with_(function_call="auto"), "function_call"),
    ("function_call unknown name", with_(functions=[TOOL["function"]], function_call={"name": "x"}), "function_call"),
    ("function_call bad type", with_(functions=[TOOL["function"]], function_call=5), "function_call"),
    ("functions bad name", with_(functions=[{"name": "a b"}]), "functions[0].name"),
]


@pytest.mark.parametrize(("case", "body", "param"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_requests_name_the_field(case: str, body: object, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_chat_request(body)
    assert err.value.param == param
    assert isinstance(err.value, ValueError)
    if param is not None:
        assert err.value.message.startswith(f"{param}: ")
        assert str(err.value) == err.value.message


def test_unknown_role_message_lists_the_roles() -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_chat_request(
            with_(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "robot", "content": "c"}])
        )
    assert err.value.message == (
        "messages[2].role: unknown role 'robot'; expected one of system, developer, user, assistant, tool, function"
    )


def test_unsupported_inputs_carry_a_code() -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_chat_request(user_parts({"type": "file", "file": {"file_id": "file-1"}}))
    assert err.value.code == "unsupported_value"


def test_bad_arguments_error_mentions_json() -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        validate_chat_request(msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "{"}}]}))


VALID: list[tuple[str, dict]] = [
    ("minimal", BASE),
    ("unknown top-level keys ignored", with_(extra_body_key={"x": 1}, user="u", metadata={"a": "b"}, store=False)),
    ("nulls everywhere", with_(temperature=None, n=None, stop=None, tools=None, tool_choice=None, response_format=None, seed=None)),
    ("boundaries", with_(temperature=0, top_p=1, n=8, presence_penalty=-2, frequency_penalty=2, max_tokens=1, seed=-(2**40))),
    ("int temperature", with_(temperature=2)),
    ("stop five", with_(stop=["a", "b", "c", "d", "e"])),
    ("assistant null content with calls", msgs({"role": "assistant", "content": None, "tool_calls": [CALL]})),
    ("assistant missing content with calls", msgs({"role": "assistant", "tool_calls": [CALL]})),
    ("assistant refusal part", msgs({"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]})),
    ("empty arguments", msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": ""}}]})),
    ("tool text parts", msgs({"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "ok"}]})),
    ("function null content", msgs({"role": "function", "name": "f", "content": None})),
    ("developer parts", with_(messages=[{"role": "developer", "content": [{"type": "text", "text": "be nice"}]}])),
    ("image string url", user_parts({"type": "image_url", "image_url": "https://example.com/a.png"})),
    ("data url with params", user_parts({"type": "image_url", "image_url": {"url": "data:image/png;name=a.png;base64,AAAA"}})),
    ("tool_choice none without tools", with_(tool_choice="none")),
    ("tool_choice named", with_(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}})),
    ("allowed_tools", with_(tools=[TOOL], tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [TOOL]}})),
    ("legacy functions", with_(functions=[{"name": "f", "parameters": {"type": "object"}}], function_call="auto")),
    ("all efforts", with_(reasoning_effort="xhigh")),
    ("json_schema without schema", with_(response_format={"type": "json_schema", "json_schema": {"name": "x"}})),
    ("logprobs", with_(logprobs=True, top_logprobs=0)),
]


@pytest.mark.parametrize(("case", "body"), VALID, ids=[c[0] for c in VALID])
def test_valid_requests_pass_unchanged(case: str, body: dict) -> None:
    original = copy.deepcopy(body)
    assert validate_chat_request(body) is body
    assert body == original


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("data:image/png;base64,iVBO", ("image/png", "iVBO")),
        ("data:application/pdf;name=x.pdf;base64,JVBE", ("application/pdf", "JVBE")),
        ("data:image/svg+xml;base64,PHN2", ("image/svg+xml", "PHN2")),
        ("data:image/png,raw", None),
        ("data:;base64,AAAA", None),
        ("https://x/y.png", None),
    ],
)
def test_parse_data_url(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_data_url(url) == expected
