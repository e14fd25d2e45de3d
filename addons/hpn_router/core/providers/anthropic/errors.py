"""Anthropic's error bodies. Pure.

`{"type": "error", "error": {"type": "rate_limit_error", "message": "...", "details": {...}},
"request_id": "req_..."}`; the spend-limit 429 names itself in `error.details.error_code`.
Anything else (an HTML page from a proxy, nothing) reads as an empty error.

Usage:
    error = parse_anthropic_error(body)
    error.type, error.message, error.code     # "rate_limit_error", "...", "enforced_spend_limit_reached"
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_MESSAGE = 500


@dataclass(frozen=True, slots=True)
class AnthropicError:
    type: str = ""
    message: str = ""
    code: str = ""  # error.details.error_code, when Anthropic gave one


def parse_anthropic_error(body: bytes | str | None) -> AnthropicError:
    try:
        data = json.loads(body or b"")
    except (ValueError, TypeError):
        return AnthropicError()
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return AnthropicError()
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    return AnthropicError(
        type=error["type"] if isinstance(error.get("type"), str) else "",
        message=error["message"][:MAX_MESSAGE] if isinstance(error.get("message"), str) else "",
        code=code if isinstance(code, str) else "",
    )
