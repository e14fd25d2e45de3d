"""Google error bodies, byte-for-byte in the shapes the real Gemini API sends.

Every builder returns a `GoogleError(status, body)`; `body` is the full
`{"error": {"code", "message", "status", "details"?}}` envelope. Wording follows
docs/gemini-wire-format.md#errors and bodies quoted in public issue threads; where no real body was
ever observed the text is the emulator's own, in Google's style.

Usage:
    err = errors.api_key_invalid()
    return web.json_response(err.body, status=err.status)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_TYPE = "type.googleapis.com/google.rpc."
_SERVICE = "generativelanguage.googleapis.com"
RATE_LIMIT_DOCS = "https://ai.google.dev/gemini-api/docs/rate-limits"
PER_MINUTE = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
PER_DAY = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
REQUESTS_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"


@dataclass(frozen=True, slots=True)
class GoogleError:
    """An HTTP status plus the JSON body Google would send with it."""

    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.body["error"]["message"])


def envelope(code: int, status: str, message: str, details: Sequence[dict[str, Any]] = ()) -> GoogleError:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return GoogleError(code, {"error": error})


def invalid_argument(message: str) -> GoogleError:
    """A semantic 400: Google sends these without details."""
    return envelope(400, "INVALID_ARGUMENT", message)


def bad_request(violations: Sequence[tuple[str | None, str]]) -> GoogleError:
    """A JSON-parse 400 with `google.rpc.BadRequest.fieldViolations` (one per problem)."""
    field_violations = [{"field": field, "description": text} if field else {"description": text} for field, text in violations]
    message = "\n".join(text for _, text in violations)
    details = [{"@type": _TYPE + "BadRequest", "fieldViolations": field_violations}]
    return envelope(400, "INVALID_ARGUMENT", message, details)


def _error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {"@type": _TYPE + "ErrorInfo", "reason": reason, "domain": "googleapis.com", "metadata": {"service": _SERVICE, **metadata}}


def _localized(message: str) -> dict[str, Any]:
    return {"@type": _TYPE + "LocalizedMessage", "locale": "en-US", "message": message}


def missing_key() -> GoogleError:
    return envelope(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity)."
        " Please use API Key or other form of API consumer identity to call this API.",
    )


def _key_invalid(message: str) -> GoogleError:
    return envelope(400, "INVALID_ARGUMENT", message, [_error_info("API_KEY_INVALID"), _localized(message)])


def api_key_invalid() -> GoogleError:
    return _key_invalid("API key not valid. Please pass a valid API key.")


def api_key_expired() -> GoogleError:
    return _key_invalid("API key expired. Please renew the API key.")


def forbidden(key: str, project_number: str) -> GoogleError:
    """The 2023-25 suspended-key body: quotes the key, ErrorInfo only."""
    message = f"Permission denied: Consumer 'api_key:{key}' has been suspended."
    return envelope(403, "PERMISSION_DENIED", message, [_error_info("CONSUMER_SUSPENDED", consumer=f"projects/{project_number}")])


def suspended(key: str, project_number: str) -> GoogleError:
    """The 2026 suspended-key body: the key is quoted three times (message, containerInfo, LocalizedMessage)."""
    message = f"Permission denied: Consumer 'api_key:{key}' has been suspended."
    info = _error_info("CONSUMER_SUSPENDED", consumer=f"projects/{project_number}", containerInfo=f"api_key:{key}")
    return envelope(403, "PERMISSION_DENIED", message, [info, _localized(message)])


def failed_precondition() -> GoogleError:
    return envelope(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")


def internal() -> GoogleError:
    return envelope(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    )


def unavailable() -> GoogleError:
    return envelope(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def deadline() -> GoogleError:
    return envelope(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.")


def model_not_found(model: str, version: str, method: str) -> GoogleError:
    return envelope(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version {version}, or is not supported for {method}."
        " Call ListModels to see the list of available models and their supported methods.",
    )


def method_not_found() -> GoogleError:
    return envelope(404, "NOT_FOUND", "Method not found.")


def cached_content_not_found() -> GoogleError:
    return envelope(403, "PERMISSION_DENIED", "CachedContent not found (or permission denied)")


def batch_too_large() -> GoogleError:
    return invalid_argument("BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch")


def resource_exhausted_bare() -> GoogleError:
    return envelope(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")


@dataclass(frozen=True, slots=True)
class Violation:
    """One exceeded quota: which window and the limit the message and QuotaFailure report."""

    quota_id: str
    limit: int


def format_seconds(seconds: float) -> str:
    """Protobuf Duration text: `37s`, `1.5s`, `45.837906927s` (no trailing zeros)."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def quota_exceeded(model: str, violations: Sequence[Violation], *, retry_in: float, retry_delay: str | None, rotation: int) -> GoogleError:
    """The 429 of docs/gemini-wire-format.md#errors.

    `retry_in` is the precise delay quoted in the message; `retry_delay` the coarser
    RetryInfo value (None = omit RetryInfo, as Google sometimes does). `rotation`
    reorders `details` because Google's order varies and clients must look by @type.
    """
    lines = "".join(f"\n* Quota exceeded for metric: {REQUESTS_METRIC}, limit: {v.limit}, model: {model}" for v in violations)
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more information"
        f" on this error, head to: {RATE_LIMIT_DOCS}. To monitor your current usage, head to:"
        f" https://ai.dev/rate-limit. {lines}\nPlease retry in {format_seconds(retry_in)}."
    )
    failure = {
        "@type": _TYPE + "QuotaFailure",
        "violations": [
            {
                "quotaMetric": REQUESTS_METRIC,
                "quotaId": v.quota_id,
                "quotaDimensions": {"location": "global", "model": model},
                "quotaValue": str(v.limit),
            }
            for v in violations
        ],
    }
    details: list[dict[str, Any]] = [
        {"@type": _TYPE + "Help", "links": [{"description": "Learn more about Gemini API quotas", "url": RATE_LIMIT_DOCS}]},
        failure,
    ]
    if retry_delay is not None:
        details.append({"@type": _TYPE + "RetryInfo", "retryDelay": retry_delay})
    shift = rotation % len(details)
    return envelope(429, "RESOURCE_EXHAUSTED", message, details[shift:] + details[:shift])
