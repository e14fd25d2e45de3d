"""Mistral's error bodies, read tolerantly. Pure.

Mistral answers errors in several shapes, depending on the layer that answers: the documented
envelope `{"object": "error", "message", "type", "param", "code"}`; a 422 whose `message` is an
object or a list (`{"detail": [...]}`); FastAPI's bare `{"detail": [...]}` or `{"detail":
"Unauthorized"}`; the gateway's `{"message": "Requests rate limit exceeded"}` without a type.
`parse_mistral_error` reads any of them (or none: a non-JSON body) into one `MistralError`.

Usage:
    error = parse_mistral_error(body)
    error.message, error.type, error.code     # "Rate limit exceeded", "rate_limited", "1300"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 500  # a validation list can be long; the client gets its start


@dataclass(frozen=True, slots=True)
class MistralError:
    message: str = ""
    type: str = ""
    code: str = ""


def parse_mistral_error(body: bytes | str | None) -> MistralError:
    """Whatever Mistral sent, as message/type/code strings (empty when absent)."""
    try:
        data = json.loads(body or b"")
    except (ValueError, TypeError):
        return MistralError()  # an HTML error page or nothing: no text worth passing on
    if not isinstance(data, dict):
        return MistralError(message=_text(data))
    message = data.get("message", data.get("detail"))
    code = data.get("code")
    return MistralError(
        message=_text(message),
        type=data["type"] if isinstance(data.get("type"), str) else "",
        code=str(code) if isinstance(code, str | int) and not isinstance(code, bool) else "",
    )


def _text(value: Any) -> str:
    """A message that may be a string, an object holding `detail`, or a list of Pydantic entries."""
    if isinstance(value, str):
        return value[:MAX_MESSAGE]
    if isinstance(value, dict) and "detail" in value:
        return _text(value["detail"])
    if isinstance(value, list):
        return "; ".join(_entry(item) for item in value)[:MAX_MESSAGE]
    return "" if value is None else json.dumps(value, ensure_ascii=False)[:MAX_MESSAGE]


def _entry(item: Any) -> str:
    """One Pydantic entry: `body.messages.0.name: Extra inputs are not permitted`."""
    if not isinstance(item, dict):
        return _text(item)
    loc = ".".join(str(part) for part in item.get("loc") or [])
    msg = str(item.get("msg") or "")
    return f"{loc}: {msg}" if loc else msg
