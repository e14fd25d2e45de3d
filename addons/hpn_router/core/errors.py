"""Errors that know their OpenAI response.

    RouterError                      500 server_error
    ├── InvalidRequestError          400 invalid_request_error (bad JSON, fields, roles)
    │   ├── NotFoundError            404 (unknown path or model)
    │   ├── MethodNotAllowed         405, with `Allow` (the methods the path serves)
    │   └── PayloadTooLarge          413
    ├── RateLimitedError             429 rate_limit_exceeded (every key cooling)
    ├── QuotaExhaustedError          429 insufficient_quota (only per-day quotas left)
    ├── NoUsableKeyError             503 (every key disabled)
    └── UpstreamError                the upstream's own status after the retries ran out

`to_openai_error(err)` is the only place that builds the `{"error": {...}}` envelope, so
every error a client sees has the same shape as OpenAI's own.
"""

from __future__ import annotations

import json
import math


class RouterError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequestError(RouterError):
    status = 400
    type = "invalid_request_error"


class NotFoundError(InvalidRequestError):
    status = 404
    code = "not_found"


class MethodNotAllowed(InvalidRequestError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"allow": ", ".join(self.allowed)}


class PayloadTooLarge(InvalidRequestError):
    status = 413
    code = "request_too_large"


class RateLimitedError(RouterError):
    """Every key is cooling; `retry_after` is the earliest recovery, in seconds."""

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(retry_after, 0.0)

    def headers(self) -> dict[str, str]:
        return {
            "retry-after": str(max(1, math.ceil(self.retry_after))),
            "retry-after-ms": str(max(1, math.ceil(self.retry_after * 1000))),
        }


class QuotaExhaustedError(RouterError):
    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        # Retrying until Pacific midnight is pointless; tell SDKs not to.
        headers = {"x-should-retry": "false"}
        if self.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class NoUsableKeyError(RouterError):
    status = 503
    code = "no_usable_key"

    def headers(self) -> dict[str, str]:
        return {"x-should-retry": "false"}


class UpstreamError(RouterError):
    """The upstream failed and the retries ran out; keeps the upstream's status."""

    def __init__(self, message: str, *, status: int, code: str | None = "upstream_error") -> None:
        super().__init__(message, code=code)
        self.status = status
        self.type = "invalid_request_error" if 400 <= status < 500 else "server_error"


def router_failed() -> RouterError:
    """The answer when the router itself failed (a hook raised, or a request reached no route)."""
    return RouterError("The router failed to handle this request.")


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, object]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def to_openai_error(err: RouterError) -> tuple[int, bytes, dict[str, str]]:
    """(status, JSON body, extra headers) of the OpenAI-format answer for `err`."""
    body = error_body(err.message, err.type, err.param, err.code)
    headers = {"content-type": "application/json", **err.headers()}
    return err.status, json.dumps(body).encode(), headers
