"""Every error the router answers, and the one place that writes each client API's error body.

    RouterError                      500 server_error
    ├── InvalidRequestError          400 invalid_request_error (bad JSON, fields, roles); alias InvalidRequest
    │   ├── NotFoundError            404 (unknown path or model)
    │   ├── MethodNotAllowed         405, with `Allow` (the methods the path serves)
    │   └── PayloadTooLarge          413
    ├── Unauthorized                 401 invalid_api_key (client or admin token)
    ├── ProxyAuthRequired            407, with `Proxy-Authenticate` (the proxy listener's token)
    ├── Refused                      403
    │   ├── ProxyClosed              the proxy listener is closed (it would be an open proxy)
    │   ├── DestinationRefused       proxy mode: a passthrough host that is not public
    │   └── AttemptReplayRefused     mitmweb: replaying an upstream attempt (it holds no key)
    ├── RateLimitedError             429 rate_limit_exceeded (every key cooling)
    ├── QuotaExhaustedError          429 insufficient_quota (only per-day quotas left)
    ├── NoUsableKeyError             503 (every key disabled)
    ├── Unresolved                   502 (proxy mode: a passthrough host's name did not resolve)
    └── UpstreamError                the upstream's own status after the retries ran out

An error knows its status, its code and its headers; it does not know a wire format.
`render(err, api)` writes it in the format of the client's API (`ClientApi`), one renderer per
API: OpenAI's `{"error": {message, type, param, code}}`, Google's `{"error": {code, message,
status, details}}`, Anthropic's `{"type": "error", "error": {type, message}}`. Adding a client
API is one renderer in RENDERERS.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from enum import Enum
from typing import Any

from hpn_router.core.providers.gemini.errors import gemini_error_body

PROXY_REALM = "HPN Router"


class ClientApi(Enum):
    """The API a client speaks; its errors come in that API's format."""

    OPENAI = "openai"  # /v1/chat/completions, /v1/embeddings, /v1/models, and everything else
    GEMINI = "gemini"  # Gemini's own API (/v1beta/..., /v1/models/{m}:{action}): google-genai
    ANTHROPIC = "anthropic"  # Anthropic's Messages API (/v1/messages...): Claude Code, Anthropic's SDKs


class RouterError(Exception):
    status = 500
    type = "server_error"  # OpenAI's error type
    code: str | None = None
    retry_after: float | None = None  # seconds, when the client should retry

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def headers(self) -> dict[str, str]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, param={self.param!r}, code={self.code!r})"


class InvalidRequestError(RouterError, ValueError):
    """A request the client must fix; ``param`` names the offending field path in OpenAI's
    dotted/indexed spelling (``messages[2].role``), so SDK users see which part was rejected.
    A ValueError too: to a caller of the pure translators it is a bad value like any other."""

    status = 400
    type = "invalid_request_error"


InvalidRequest = InvalidRequestError  # the name the pure translators raise it by


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


class Unauthorized(RouterError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class ProxyAuthRequired(RouterError):
    status = 407
    type = "invalid_request_error"
    code = "proxy_authentication_required"

    def headers(self) -> dict[str, str]:
        return {"proxy-authenticate": f'Basic realm="{PROXY_REALM}"'}


class Refused(RouterError):
    """403: the router will not do this, whoever asks."""

    status = 403
    type = "invalid_request_error"


class ProxyClosed(Refused):
    code = "proxy_closed"


class DestinationRefused(Refused):
    code = "destination_refused"


class AttemptReplayRefused(Refused):
    code = "attempt_replay_refused"


class Unresolved(RouterError):
    status = 502
    code = "destination_unresolved"


class RateLimitedError(RouterError):
    """Every key is cooling; `retry_after` is the earliest recovery, in seconds."""

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after: float = max(retry_after, 0.0)

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


def openai_error_body(err: RouterError) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def gemini_error_body_of(err: RouterError) -> dict[str, Any]:
    return gemini_error_body(err.status, err.message, reason=err.code, retry_after=err.retry_after, field=err.param)


# Anthropic names an error by its status alone; its SDKs pick the exception class by status too.
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    407: "authentication_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",  # every key disabled: like Anthropic's overload, not the client's fault
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    return ANTHROPIC_TYPES.get(status) or ("invalid_request_error" if 400 <= status < 500 else "api_error")


def anthropic_error_body(err: RouterError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": anthropic_error_type(err.status), "message": err.message}}


RENDERERS: dict[ClientApi, Callable[[RouterError], dict[str, Any]]] = {
    ClientApi.OPENAI: openai_error_body,
    ClientApi.GEMINI: gemini_error_body_of,
    ClientApi.ANTHROPIC: anthropic_error_body,
}


def render(err: RouterError, api: ClientApi) -> tuple[int, bytes, dict[str, str]]:
    """(status, JSON body, headers) of the answer for `err` to a client of `api`."""
    body = RENDERERS[api](err)
    return err.status, json.dumps(body).encode(), {"content-type": "application/json", **err.headers()}


def to_openai_error(err: RouterError) -> tuple[int, bytes, dict[str, str]]:
    return render(err, ClientApi.OPENAI)
