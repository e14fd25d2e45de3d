"""Mistral's error bodies, in every shape the emulator (and the wild) sends, read into one form."""

from __future__ import annotations

import json

import pytest
from hpn_router.core.providers.mistral.errors import MistralError, parse_mistral_error
from mistral_emulator import errors as emulated


@pytest.mark.parametrize(
    ("error", "want"),
    [
        (emulated.rate_limited(2), MistralError("Rate limit exceeded", "rate_limited", "1300")),
        (emulated.rate_limited_bare(2), MistralError("Requests rate limit exceeded")),
        (emulated.unauthorized(), MistralError("Unauthorized")),
        (emulated.unauthorized_gateway("r1"), MistralError("Unauthorized")),
        (
            emulated.tool_call_id("call_x"),
            MistralError(f"Tool call id was call_x but {emulated.TOOL_ID_RULE}", "invalid_function_call", "3280"),
        ),
        (emulated.monthly_limit(), MistralError("Monthly usage limit exceeded.", "rate_limit_error", "1301")),
    ],
)
def test_each_shape(error: emulated.MistralError, want: MistralError) -> None:
    assert parse_mistral_error(json.dumps(error.body).encode()) == want


def test_a_validation_list_becomes_readable_text() -> None:
    body = emulated.unprocessable([emulated.extra_forbidden(("seed",), 3)]).body
    assert parse_mistral_error(json.dumps(body)).message == "body.seed: Extra inputs are not permitted"
    bare = {"detail": [{"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": {}}]}
    assert parse_mistral_error(json.dumps(bare)).message == "body.model: Field required"


@pytest.mark.parametrize("body", [b"", b"<html>502</html>", b"[1, 2]", b"null", None, b'{"code": true, "type": 5}'])
def test_anything_else_is_read_without_raising(body: bytes | None) -> None:
    assert isinstance(parse_mistral_error(body), MistralError)
