"""Mistral error bodies, in the shapes La Plateforme sends (pure).

Every builder returns a `MistralError(status, body, headers)`. Mistral's bodies vary by the layer
that answers: the documented envelope `{"object": "error", "message", "type", "param", "code"}`
for the model service, a FastAPI/Pydantic 422 whose `message` is an object holding `detail`, the
gateway's `{"detail": "Unauthorized"}` for a bad key, the older `{"message": "Requests rate limit
exceeded"}` without `object`... A client must parse them all (README "The Mistral emulator").
Quoted bodies come from public issue threads; where no real body was ever published (402, 500,
503) the text is the emulator's own, in the documented envelope.

Usage:
    err = errors.tool_call_id("call_abc")
    return web.json_response(err.body, status=err.status, headers=err.headers)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOOL_ID_RULE = "must be a-z, A-Z, 0-9, with a length of 9."
LAST_ROLE = "Expected last role User or Tool (or Assistant with prefix True) for serving but got {role}"
EMPTY_ASSISTANT = "Assistant message must have either content or tool_calls, but not none."
BOTH_ASSISTANT = "Assistant message must have either content or tool_calls, but not both."
PREFIX_NOT_LAST = "Assistant message with prefix True must be last message"
CALLS_AND_RESPONSES = "Not the same number of function calls and responses"


@dataclass(frozen=True, slots=True)
class MistralError:
    """An HTTP status, the JSON body Mistral sends with it, and any extra headers (Retry-After)."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> Any:
        return self.body.get("message", self.body.get("detail"))


def envelope(status: int, message: Any, type_: str, code: str | None = None, **extra: Any) -> MistralError:
    """The documented body: object, message, type, param (always null here), code (a string or null)."""
    return MistralError(status, {"object": "error", "message": message, "type": type_, "param": None, "code": code, **extra})


# --- 422: the request's JSON does not fit the schema (Pydantic, `extra="forbid"`) ----------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One Pydantic error entry: `loc` starts with "body", as FastAPI reports it."""

    type: str
    loc: tuple[str | int, ...]
    msg: str
    input: Any

    def entry(self) -> dict[str, Any]:
        return {"type": self.type, "loc": ["body", *self.loc], "msg": self.msg, "input": self.input}


def extra_forbidden(loc: Sequence[str | int], value: Any) -> Problem:
    return Problem("extra_forbidden", tuple(loc), "Extra inputs are not permitted", value)


def missing(loc: Sequence[str | int], parent: Any) -> Problem:
    return Problem("missing", tuple(loc), "Field required", parent)


def unprocessable(problems: Sequence[Problem]) -> MistralError:
    """422 with `message: {"detail": [...]}`, the shape reported in 2025-26 (eca#231, eca#315)."""
    return envelope(422, {"detail": [p.entry() for p in problems]}, "invalid_request_error")


# --- 400: the request parses but breaks a chat rule (mistral-common's validator) -----------------


def tool_call_id(value: str) -> MistralError:
    return envelope(400, f"Tool call id was {value} but {TOOL_ID_RULE}", "invalid_function_call", "3280")


def message_order(message: str) -> MistralError:
    return envelope(400, message, "invalid_request_message_order", "3230")


def unexpected_role(role: str, previous: str) -> MistralError:
    return message_order(f"Unexpected role '{role}' after role '{previous}'")


def last_role(role: str) -> MistralError:
    return message_order(LAST_ROLE.format(role=role))


def invalid_request(message: str) -> MistralError:
    """A 400 without a code, as the assistant-content rules answer (maid#672)."""
    return envelope(400, message, "invalid_request_error")


def too_many_tokens() -> MistralError:
    """An embeddings request over 16,384 tokens across its inputs (chroma-core/chroma#5597;
    the limit: mistralai/client-python#46)."""
    return envelope(400, "Too many tokens overall, split into more batches.", "invalid_request_prompt", "3210")


def invalid_model(model: str) -> MistralError:
    return envelope(400, f"Invalid model: {model}", "invalid_model", "1500")


def not_found() -> MistralError:
    return MistralError(404, {"detail": "Not Found"})


def method_not_allowed() -> MistralError:
    return MistralError(405, {"detail": "Method Not Allowed"})


# --- keys, limits, billing, service ------------------------------------------------------------


def unauthorized() -> MistralError:
    """A missing, unknown or revoked key (agent-zero#539, nextcloud integration_openai#332)."""
    return MistralError(401, {"detail": "Unauthorized"})


def unauthorized_gateway(request_id: str) -> MistralError:
    """The older gateway shape (cline#1734)."""
    return MistralError(401, {"message": "Unauthorized", "request_id": request_id})


def rate_limited(retry_after: int) -> MistralError:
    """The 2026 429 (earendil-works/pi#9815): code 1300, raw_status_code, Retry-After in seconds."""
    error = envelope(429, "Rate limit exceeded", "rate_limited", "1300", raw_status_code=429)
    return MistralError(429, error.body, {"Retry-After": str(retry_after)})


def rate_limited_bare(retry_after: int) -> MistralError:
    """The gateway's bare 429 (pydantic-ai#1885): no `object`, no `type`."""
    return MistralError(429, {"message": "Requests rate limit exceeded"}, {"Retry-After": str(retry_after)})


def capacity_exceeded() -> MistralError:
    """No Retry-After: it is the model's tier that is full, not the key's window (continue#6185)."""
    return envelope(429, "Service tier capacity exceeded for this model.", "service_tier_capacity_exceeded", "3505")


def monthly_limit() -> MistralError:
    """Reaching the workspace's monthly usage limit has been reported as a 429 (vanna#177)."""
    return envelope(429, "Monthly usage limit exceeded.", "rate_limit_error", "1301")


def payment_required() -> MistralError:
    return envelope(402, "Payment required: no credits left or the spend limit is reached.", "invalid_request_error", "1100")


def internal() -> MistralError:
    return envelope(500, "Internal server error", "server_error", "5000")


def unavailable() -> MistralError:
    return envelope(503, "Service unavailable, the model is overloaded. Please retry later.", "server_error", "5003")
