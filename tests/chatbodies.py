"""Chat Completions bodies for the validation tests (tests/core/test_chat_validate*.py): a valid
base to vary, and the check every invalid case makes (a 400 naming its field)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hpn_router.core.chat_validate import validate_chat_request
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


def assert_names_the_field(body: object, param: str | None) -> None:
    """``body`` is refused with an InvalidRequest whose param, and message start, is ``param``."""
    with pytest.raises(InvalidRequest) as err:
        validate_chat_request(body)
    assert err.value.param == param
    assert isinstance(err.value, ValueError)
    if param is not None:
        assert err.value.message.startswith(f"{param}: ")
        assert str(err.value) == err.value.message


def assert_passes_unchanged(body: dict[str, Any]) -> None:
    original = copy.deepcopy(body)
    assert validate_chat_request(body) is body
    assert body == original
