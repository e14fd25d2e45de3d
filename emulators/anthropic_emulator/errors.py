"""Anthropic error bodies: `{"type": "error", "error": {"type", "message"}, "request_id"}`.

Every builder returns an `AnthropicError(status, type, message, ...)`; `body(request_id)` is the
JSON the API sends and `headers()` the extra response headers (retry-after, x-should-retry).
Types and statuses follow Anthropic's error page (400 invalid_request_error, 401
authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error, 413
request_too_large, 429 rate_limit_error, 500 api_error, 504 timeout_error, 529 overloaded_error);
messages are the ones the API was seen answering where one is known, otherwise in its style.

Usage:
    err = errors.invalid_request("max_tokens: Field required")
    return web.json_response(err.body("req_..."), status=err.status, headers=err.headers())
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RATE_LIMIT_DOCS = "https://docs.claude.com/en/api/rate-limits"
CREDIT_TOO_LOW = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."


@dataclass(frozen=True, slots=True)
class AnthropicError:
    """An HTTP status plus what Anthropic's JSON error body and headers carry."""

    status: int
    type: str
    message: str
    retry_after: int | None = None  # seconds: `retry-after` (and `retry-after-ms`) when set
    details: dict[str, Any] | None = None
    should_retry: bool | None = None  # `x-should-retry`, which the official SDKs obey before anything else
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"type": "error", "error": error, "request_id": request_id}

    def event(self) -> dict[str, Any]:
        """The `data` of an `event: error` sent after a 200 (no request_id in-band)."""
        return {"type": "error", "error": {"type": self.type, "message": self.message}}

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
            headers["retry-after-ms"] = str(self.retry_after * 1000)
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        return headers


def invalid_request(message: str) -> AnthropicError:
    return AnthropicError(400, "invalid_request_error", message)


def missing_key() -> AnthropicError:
    return AnthropicError(401, "authentication_error", "x-api-key header is required")


def invalid_key() -> AnthropicError:
    return AnthropicError(401, "authentication_error", "invalid x-api-key")


def missing_version() -> AnthropicError:
    return invalid_request("anthropic-version: header is required")


def bad_version(value: str) -> AnthropicError:
    return invalid_request(f"anthropic-version: invalid version '{value}'. Expected a date like 2023-06-01")


def not_found(message: str = "Not Found") -> AnthropicError:
    return AnthropicError(404, "not_found_error", message)


def model_not_found(model: str) -> AnthropicError:
    return not_found(f"model: {model}")


def method_not_allowed() -> AnthropicError:
    return AnthropicError(405, "invalid_request_error", "Method Not Allowed")


def request_too_large() -> AnthropicError:
    return AnthropicError(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")


def rate_limited(organization_id: str, rpm: int, retry_after: int | None) -> AnthropicError:
    message = (
        f"This request would exceed the rate limit for your organization ({organization_id}) of {rpm} requests per minute."
        f" For details, refer to: {RATE_LIMIT_DOCS}. You can see the response headers for current usage. Please reduce"
        " the prompt length or the maximum tokens requested, or try again later. You may also contact sales at"
        " https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
    )
    return AnthropicError(429, "rate_limit_error", message, retry_after=retry_after, should_retry=True)


def spend_limit(resume: str) -> AnthropicError:
    """The tier's monthly spend cap: a 429 without retry-after, paused until the 1st of next month."""
    message = f"You have reached your monthly spend limit for your usage tier. You will regain access on {resume}."
    return AnthropicError(429, "rate_limit_error", message, details={"error_code": "enforced_spend_limit_reached"}, should_retry=False)


def forbidden() -> AnthropicError:
    return AnthropicError(403, "permission_error", "Your API key does not have permission to use the specified resource.")


def billing() -> AnthropicError:
    return AnthropicError(402, "billing_error", "There is an issue with your account's billing. Please check Plans & Billing.")


def credit_too_low() -> AnthropicError:
    return invalid_request(CREDIT_TOO_LOW)


def workspace_limit(resume: str) -> AnthropicError:
    return invalid_request(f"You have reached your specified workspace API usage limits. You will regain access on {resume}.")


def overloaded(retry_after: int | None = None) -> AnthropicError:
    return AnthropicError(529, "overloaded_error", "Overloaded", retry_after=retry_after, should_retry=True)


def internal() -> AnthropicError:
    return AnthropicError(500, "api_error", "Internal server error", should_retry=True)


def timeout() -> AnthropicError:
    return AnthropicError(504, "timeout_error", "Request timed out", should_retry=True)
