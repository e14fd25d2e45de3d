"""An Anthropic Messages body read into the ChatRequest model: golden pairs (Messages body -> the
Gemini body the chat translator makes of it) and the 400s naming the field (the messages' own:
test_anthropic_messages_input.py; the tools': test_anthropic_messages_tools.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.anthropic_messages_request import parse_messages_request
from hpn_router.core.model.request import Message, TextPart
from hpn_router.core.providers.gemini.chat_request import TranslateOptions, chat_request_to_gemini
from inboundkit import messages_refused as refused
from inboundkit import parse_messages as parse

DATA = Path(__file__).resolve().parents[2] / "data" / "translate" / "messages"
GOLDEN = sorted(p.name.removesuffix(".messages.json") for p in DATA.glob("*.messages.json"))
HI = [{"role": "user", "content": "hi"}]


def image(source: dict) -> dict:
    return {"role": "user", "content": [{"type": "image", "source": source}]}


def test_golden_set_is_complete() -> None:
    assert len(GOLDEN) >= 3
    for name in GOLDEN:
        assert (DATA / f"{name}.gemini.json").exists(), name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_request(name: str) -> None:
    body = json.loads((DATA / f"{name}.messages.json").read_text(encoding="utf-8"))
    expected = json.loads((DATA / f"{name}.gemini.json").read_text(encoding="utf-8"))
    assert chat_request_to_gemini(parse_messages_request(body), "gemini-2.5-flash", TranslateOptions()) == expected


def test_a_string_system_comes_first_and_a_string_content_is_one_text() -> None:
    request = parse(system="Be brief.")
    assert request.messages == (Message("system", (TextPart("Be brief."),)), Message("user", (TextPart("hi"),)))
    assert request.max_output_tokens == 100 and request.include_usage and not request.stream


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"stop_sequences": ["END", "STOP"], "temperature": 0.5, "top_p": 1}, {"stop": ("END", "STOP"), "temperature": 0.5, "top_p": 1}),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2000}, {"reasoning_effort": "low"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 5000}, "max_tokens": 8000}, {"reasoning_effort": "medium"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 20000}, "max_tokens": 32000}, {"reasoning_effort": "high"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 50000}, "max_tokens": 64000}, {"reasoning_effort": "xhigh"}),
        ({"thinking": {"type": "adaptive"}}, {"reasoning_effort": None}),
        ({"thinking": {"type": "disabled"}}, {"reasoning_effort": "none"}),
        ({"output_config": {"effort": "max"}, "thinking": {"type": "adaptive"}}, {"reasoning_effort": "xhigh"}),
        ({"metadata": {"user_id": "u1"}}, {"end_user": "u1", "extra": {}}),
        ({"stream": True}, {"stream": True}),
        ({"top_k": 5, "service_tier": "auto"}, {"extra": {"top_k": 5}}),
    ],
)
def test_messages_fields_become_the_models(fields: dict, expected: dict) -> None:
    request = parse(**fields)
    assert {name: getattr(request, name) for name in expected} == expected


def test_count_tokens_needs_no_max_tokens() -> None:
    request = parse_messages_request({"model": "claude-haiku-4-5", "messages": HI}, count_only=True)
    assert request.max_output_tokens is None and not request.stream


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"temperature": 1.5}, "temperature"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking.budget_tokens"),  # not under max_tokens
        ({"thinking": {"type": "on"}}, "thinking.type"),
        ({"metadata": {"user_id": 7}}, "metadata.user_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(fields: dict, param: str) -> None:
    err = refused(**fields)
    assert err.status == 400 and err.param == param and err.message.startswith(param)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_messages_request([])


def user(*blocks: object) -> list[dict]:
    return [{"role": "user", "content": list(blocks)}]


def document(source: dict) -> dict:
    return {"type": "document", "source": source}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"thinking": "on"}, "thinking"),
        ({"output_config": {"effort": "huge"}}, "output_config.effort"),
    ],
)
def test_more_bad_input_is_a_400_naming_the_field(fields: dict, param: str) -> None:
    err = refused(**fields)
    assert err.status == 400 and err.param == param and err.message.startswith(param)


def test_a_server_tool_or_a_file_id_is_unsupported_not_just_wrong() -> None:
    assert refused(tools=[{"type": "bash_20250124", "name": "bash"}]).code == "unsupported_value"
    assert refused(messages=user(document({"type": "file", "file_id": "f"}))).code == "unsupported_value"
