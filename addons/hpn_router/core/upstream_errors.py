"""Gemini error answers that reach the client, mapped to OpenAI's error envelope (docs/gemini-wire-format.md#errors-to-the-client).

Only answers the pool does not retry get here: request-shaped 400s, 404 for an unknown
model, and 5xx after the retries ran out. Google's envelope (and its array form) never
reaches an OpenAI SDK as-is.
"""

from __future__ import annotations

import json
from typing import Any

from hpn_router.core.errors import InvalidRequestError, NotFoundError, RouterError, UpstreamError


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _first_field_violation(error: dict[str, Any]) -> str | None:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.BadRequest"):
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and violation.get("field"):
                    return str(violation["field"])
    return None


def gemini_error_to_openai(status: int, body: bytes) -> RouterError:
    error = _envelope(body)
    message = str(error.get("message") or f"Gemini answered HTTP {status}.")
    if status == 404:
        return NotFoundError(message, code="model_not_found")
    if status in (400, 422):
        return InvalidRequestError(f"Gemini rejected the request: {message}", param=_first_field_violation(error))
    if 400 <= status < 500:
        return UpstreamError(message, status=status, code=str(error.get("status") or "upstream_error").lower())
    return UpstreamError(message, status=status, code="upstream_error")
