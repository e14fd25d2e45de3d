"""The messages of a chat request (core/chat_validate_messages.py): roles, content parts, an
assistant's tool calls; each mistake a 400 naming its field."""

from __future__ import annotations

import pytest
from chatbodies import CALL, assert_names_the_field, assert_passes_unchanged, msgs, user_parts, with_
from hpn_router.core.chat_validate import validate_chat_request
from hpn_router.core.errors import InvalidRequest

INVALID: list[tuple[str, object, str | None]] = [
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
]


@pytest.mark.parametrize(("case", "body", "param"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_requests_name_the_field(case: str, body: object, param: str | None) -> None:
    assert_names_the_field(body, param)


VALID: list[tuple[str, dict]] = [
    ("assistant null content with calls", msgs({"role": "assistant", "content": None, "tool_calls": [CALL]})),
    ("assistant missing content with calls", msgs({"role": "assistant", "tool_calls": [CALL]})),
    ("assistant refusal part", msgs({"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]})),
    ("empty arguments", msgs({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": ""}}]})),
    ("tool text parts", msgs({"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "ok"}]})),
    ("function null content", msgs({"role": "function", "name": "f", "content": None})),
    ("developer parts", with_(messages=[{"role": "developer", "content": [{"type": "text", "text": "be nice"}]}])),
    ("image string url", user_parts({"type": "image_url", "image_url": "https://example.com/a.png"})),
    ("data url with params", user_parts({"type": "image_url", "image_url": {"url": "data:image/png;name=a.png;base64,AAAA"}})),
]


@pytest.mark.parametrize(("case", "body"), VALID, ids=[c[0] for c in VALID])
def test_valid_requests_pass_unchanged(case: str, body: dict) -> None:
    assert_passes_unchanged(body)


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
