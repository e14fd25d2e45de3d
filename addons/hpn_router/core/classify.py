"""Classify every upstream failure into what the key pool and the client should do.

Gemini hides different fates behind the same status codes (docs/gemini-wire-format.md#errors): an invalid
key is a 400 like a malformed request, and a per-day quota is a 429 like a per-minute one.
The classifier reads `ErrorInfo.reason`, `QuotaFailure.violations[].quotaId` and
`RetryInfo.retryDelay` (found by `@type`, since Google varies the order of `details`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


class Verdict(Enum):
    OK = "ok"
    RATE_LIMITED = "rate_limited"  # cool this key (its project) for this model, retry elsewhere
    QUOTA_EXHAUSTED = "quota_exhausted"  # per-day or `limit: 0`: park until Pacific midnight
    KEY_INVALID = "key_invalid"  # disable the key for good, retry elsewhere
    KEY_FORBIDDEN = "key_forbidden"  # 403: disable, retry elsewhere
    KEY_PRECONDITION = "key_precondition"  # location/billing of the key's project: disable
    TRANSIENT = "transient"  # 500/502/503/504: retry elsewhere, no penalty (Gemini answered)
    UNANSWERED = "unanswered"  # timeout, reset, refused: retry elsewhere, skip this key briefly
    CLIENT_ERROR = "client_error"  # the request itself is wrong: answer the client, no penalty


RETRY_ELSEWHERE = {
    Verdict.RATE_LIMITED,
    Verdict.QUOTA_EXHAUSTED,
    Verdict.KEY_INVALID,
    Verdict.KEY_FORBIDDEN,
    Verdict.KEY_PRECONDITION,
    Verdict.TRANSIENT,
    Verdict.UNANSWERED,
}
# Failures worth a short backoff before the next attempt: the service, not the key's quota.
BACKS_OFF = {Verdict.TRANSIENT, Verdict.UNANSWERED}
DISABLES_KEY = {Verdict.KEY_INVALID, Verdict.KEY_FORBIDDEN, Verdict.KEY_PRECONDITION}


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str  # short, human, never holds a key value
    retry_after: float | None = None  # seconds, from RetryInfo or the message
    quota_limit: tuple[str, int] | None = None  # ("minute" | "day", requests) from QuotaFailure

    @property
    def retry_elsewhere(self) -> bool:
        return self.verdict in RETRY_ELSEWHERE


OK = Outcome(Verdict.OK, "ok")
_RETRY_IN = re.compile(r"[Pp]lease retry in ([0-9.]+)(ms|s)\b")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")
_TRANSIENT_STATUS = {500: "500 Internal Error", 502: "502 Bad Gateway", 503: "503 Unavailable", 504: "504 Deadline Exceeded"}


def parse_duration(value: Any) -> float | None:
    """Protobuf Duration JSON ("37s", "0.5s", "45.837906927s") to seconds."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def next_pacific_midnight(now: float) -> float:
    """Per-day quotas reset at midnight America/Los_Angeles (DST-aware)."""
    local = datetime.fromtimestamp(now, PACIFIC)
    tomorrow = (local + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC)
    return midnight.timestamp()


def _error_object(body: bytes | str | None) -> dict[str, Any]:
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return {}
    if isinstance(data, list) and data:  # some Google endpoints wrap the envelope in an array
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict[str, Any], type_suffix: str) -> list[dict[str, Any]]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, dict) and str(d.get("@type", "")).endswith(type_suffix)]


def _error_reasons(error: dict[str, Any]) -> set[str]:
    return {str(d.get("reason", "")) for d in _details(error, "google.rpc.ErrorInfo")}


def _violations(error: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for failure in _details(error, "google.rpc.QuotaFailure"):
        found += [v for v in failure.get("violations") or [] if isinstance(v, dict)]
    return found


def _quota_ids(error: dict[str, Any]) -> list[str]:
    return [str(v.get("quotaId", "")) for v in _violations(error)]


def _learned_limit(error: dict[str, Any]) -> tuple[str, int] | None:
    """A request quota Gemini told us about (`quotaValue` is often absent)."""
    for violation in _violations(error):
        quota_id, value = str(violation.get("quotaId", "")), str(violation.get("quotaValue", ""))
        if not value.isdigit() or int(value) == 0 or "Requests" not in quota_id:
            continue
        if "PerMinute" in quota_id:
            return ("minute", int(value))
        if "PerDay" in quota_id:
            return ("day", int(value))
    return None


def _retry_delay(error: dict[str, Any]) -> float | None:
    for info in _details(error, "google.rpc.RetryInfo"):
        delay = parse_duration(info.get("retryDelay"))
        if delay is not None:
            return delay
    match = _RETRY_IN.search(str(error.get("message", "")))
    if match:
        amount = float(match.group(1))
        return amount / 1000 if match.group(2) == "ms" else amount
    return None


def _classify_429(error: dict[str, Any]) -> Outcome:
    quota_ids = _quota_ids(error)
    message = str(error.get("message", ""))
    # A per-day 429 still carries a short retryDelay: trusting it would hammer a key that is
    # spent until midnight (docs/gemini-wire-format.md#quotas). `limit: 0` means the model is not on this tier at all.
    learned = _learned_limit(error)
    if any("PerDay" in q for q in quota_ids):
        return Outcome(Verdict.QUOTA_EXHAUSTED, "429 per-day quota exhausted", quota_limit=learned)
    if re.search(r"\blimit: 0\b", message):
        return Outcome(Verdict.QUOTA_EXHAUSTED, "429 quota limit 0 for this model")
    return Outcome(Verdict.RATE_LIMITED, "429 Too Many Requests", _retry_delay(error), learned)


def classify_response(status: int, body: bytes | str | None) -> Outcome:
    """What an upstream answer with `status` and `body` means for the key and the client."""
    if 200 <= status < 300:
        return OK
    error = _error_object(body)
    if status == 429:
        return _classify_429(error)
    if status == 400 and "API_KEY_INVALID" in _error_reasons(error):
        return Outcome(Verdict.KEY_INVALID, "400 API key invalid or expired")
    if status == 400 and error.get("status") == "FAILED_PRECONDITION":
        return Outcome(Verdict.KEY_PRECONDITION, "400 failed precondition (location or billing of the key's project)")
    if status in (401, 403):
        return Outcome(Verdict.KEY_FORBIDDEN, f"{status} permission denied")
    if status in _TRANSIENT_STATUS:
        return Outcome(Verdict.TRANSIENT, _TRANSIENT_STATUS[status])
    return Outcome(Verdict.CLIENT_ERROR, f"{status} client error")


def classify_transport_error(kind: str) -> Outcome:
    """Connection refused/reset or timeout before an answer: retry on another key, and let
    the pool skip this one for a while, so the next requests do not wait for it too."""
    return Outcome(Verdict.UNANSWERED, kind)
