"""Gemini's error answers as OpenAI errors: 404 is model_not_found, a 400 names the field
Gemini objected to, other statuses keep theirs, and any body (array form, junk) is handled."""

from __future__ import annotations

import json

from hpn_router.core.errors import InvalidRequestError, NotFoundError, UpstreamError
from hpn_router.core.upstream_errors import gemini_error_to_openai


def body(code: int, message: str, status: str = "", details: list | None = None, array: bool = False) -> bytes:
    envelope = {"error": {"code": code, "message": message, "status": status, "details": details or []}}
    return json.dumps([envelope] if array else envelope).encode()


def test_a_404_is_model_not_found():
    error = gemini_error_to_openai(404, body(404, "models/x is not found", array=True))
    assert isinstance(error, NotFoundError) and error.code == "model_not_found" and error.message == "models/x is not found"


def test_a_400_names_the_first_field_violation():
    details = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "x"},
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"description": "no field"}, {"field": "tools[0]"}]},
    ]
    error = gemini_error_to_openai(400, body(400, "bad tools", "INVALID_ARGUMENT", details))
    assert isinstance(error, InvalidRequestError) and error.status == 400
    assert error.param == "tools[0]" and error.message == "Gemini rejected the request: bad tools"


def test_other_statuses_keep_theirs_with_geminis_status_as_code():
    forbidden = gemini_error_to_openai(403, body(403, "denied", "PERMISSION_DENIED"))
    assert isinstance(forbidden, UpstreamError) and forbidden.status == 403 and forbidden.code == "permission_denied"
    unavailable = gemini_error_to_openai(503, body(503, "overloaded", "UNAVAILABLE"))
    assert unavailable.status == 503 and unavailable.code == "upstream_error" and unavailable.type == "server_error"


def test_a_body_that_is_not_geminis_envelope_still_gets_a_message():
    for junk in (b"", b"<html>bad gateway</html>", b"[]", b'{"error": "text"}', b"\xff\xfe"):
        error = gemini_error_to_openai(502, junk)
        assert error.status == 502 and error.message == "Gemini answered HTTP 502."


def test_mistral_errors_in_the_clients_format() -> None:
    from hpn_router.core.upstream_errors import upstream_error_to_openai
    from mistral_emulator import errors as emulated

    rejected = emulated.unprocessable([emulated.extra_forbidden(("seed",), 1)])
    error = upstream_error_to_openai("mistral", 422, json.dumps(rejected.body).encode())
    assert isinstance(error, InvalidRequestError) and "body.seed: Extra inputs are not permitted" in error.message
    ids = emulated.tool_call_id("call_1")
    assert upstream_error_to_openai("mistral", 400, json.dumps(ids.body).encode()).code == "3280"
    assert upstream_error_to_openai("mistral", 404, b'{"detail": "Not Found"}').status == 404
    assert upstream_error_to_openai("mistral", 502, b"<html>").message == "Mistral answered HTTP 502."
