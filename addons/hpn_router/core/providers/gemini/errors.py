"""Google's error envelope, read in one place and written in one place (docs/gemini-wire-format.md#errors).

    {"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
               "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", ...}, ...]}}

Some Google endpoints wrap it in a one-element array. `details` is optional and its order
varies, so each detail is found by the end of its `@type`. `parse_gemini_error` turns any body
(the envelope, its array form, HTML from a proxy, garbage bytes) into a `GeminiError`; the
classifier (what the pool does) and the mapping to the client's error both read that value.
`gemini_error_body` writes the envelope, for the router's own answers to Google's clients.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")
_RETRY_IN = re.compile(r"[Pp]lease retry in ([0-9.]+)(ms|s)\b")

# Google's canonical status for each HTTP status the router answers (google.rpc.Code's HTTP mapping).
STATUS_OF_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",  # the path exists, the method is not served on it
    407: "UNAUTHENTICATED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
DETAIL_TYPE = "type.googleapis.com/google.rpc."


@dataclass(frozen=True, slots=True)
class QuotaViolation:
    quota_id: str  # "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    quota_value: int | None = None  # the limit, when Gemini says it (often absent)


@dataclass(frozen=True, slots=True)
class GeminiError:
    """What one Gemini error body says; empty fields where the body says nothing."""

    code: int | None = None  # the envelope's own `code` (the HTTP status, when present)
    status: str = ""  # "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", ...
    message: str = ""
    reasons: frozenset[str] = frozenset()  # ErrorInfo.reason: "API_KEY_INVALID", ...
    violations: tuple[QuotaViolation, ...] = ()  # QuotaFailure.violations
    retry_delay: float | None = None  # seconds: RetryInfo.retryDelay, else "Please retry in Xs." in the message
    field_violations: tuple[str, ...] = ()  # BadRequest.fieldViolations[].field, in order

    @property
    def quota_ids(self) -> list[str]:
        return [v.quota_id for v in self.violations]


def parse_gemini_error(body: bytes | str | None) -> GeminiError:
    """Any upstream error body as a GeminiError; a body that is not Google's envelope gives an empty one."""
    error = _error_object(body)
    if not error:
        return GeminiError()
    message = str(error.get("message") or "")
    code, status = error.get("code"), error.get("status")
    return GeminiError(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        status=status if isinstance(status, str) else "",
        message=message,
        reasons=frozenset(str(d.get("reason", "")) for d in _details(error, "ErrorInfo")),
        violations=tuple(_violations(error)),
        retry_delay=_retry_delay(error, message),
        field_violations=tuple(_field_violations(error)),
    )


def parse_duration(value: Any) -> float | None:
    """Protobuf Duration JSON ("37s", "0.5s", "45.837906927s") to seconds."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def gemini_error_body(
    status: int, message: str, *, reason: str | None = None, retry_after: float | None = None, field: str | None = None
) -> dict[str, Any]:
    """Google's envelope, as google-genai and Google's REST clients read it (code, message,
    status), with the details a Google client may act on: the machine-readable reason
    (ErrorInfo), when to retry (RetryInfo) and the offending field (BadRequest)."""
    details: list[dict[str, Any]] = []
    if reason:
        details.append({"@type": DETAIL_TYPE + "ErrorInfo", "reason": reason.upper(), "domain": "hpn-router"})
    if retry_after is not None:
        # Whole seconds, never 0 ("retry now"), like the Retry-After header beside it.
        details.append({"@type": DETAIL_TYPE + "RetryInfo", "retryDelay": f"{max(1, math.ceil(retry_after))}s"})
    if field:
        details.append({"@type": DETAIL_TYPE + "BadRequest", "fieldViolations": [{"field": field, "description": message}]})
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status(status)}
    if details:
        error["details"] = details
    return {"error": error}


def google_status(status: int) -> str:
    if status in STATUS_OF_HTTP:
        return STATUS_OF_HTTP[status]
    return "FAILED_PRECONDITION" if 400 <= status < 500 else "INTERNAL"


def _error_object(body: bytes | str | None) -> dict[str, Any]:
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return {}
    if isinstance(data, list) and data:  # some Google endpoints wrap the envelope in an array
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    suffix = "google.rpc." + type_name
    return [d for d in details if isinstance(d, dict) and str(d.get("@type", "")).endswith(suffix)]


def _listed(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _violations(error: dict[str, Any]) -> list[QuotaViolation]:
    found: list[QuotaViolation] = []
    for failure in _details(error, "QuotaFailure"):
        for violation in _listed(failure.get("violations")):
            value = str(violation.get("quotaValue", ""))
            limit = int(value) if value.isascii() and value.isdigit() else None  # "²".isdigit() too, but int() refuses it
            found.append(QuotaViolation(str(violation.get("quotaId", "")), limit))
    return found


def _retry_delay(error: dict[str, Any], message: str) -> float | None:
    for info in _details(error, "RetryInfo"):
        delay = parse_duration(info.get("retryDelay"))
        if delay is not None:
            return delay
    match = _RETRY_IN.search(message)
    if match:
        amount = float(match.group(1))
        return amount / 1000 if match.group(2) == "ms" else amount
    return None


def _field_violations(error: dict[str, Any]) -> list[str]:
    fields: list[str] = []
    for bad_request in _details(error, "BadRequest"):
        fields += [str(v["field"]) for v in _listed(bad_request.get("fieldViolations")) if v.get("field")]
    return fields
