"""Classify every upstream failure into what the key pool and the client should do.

Gemini hides different fates behind the same status codes (docs/gemini-wire-format.md#errors): an invalid
key is a 400 like a malformed request, and a per-day quota is a 429 like a per-minute one.
The classifier reads `ErrorInfo.reason`, `QuotaFailure.violations[].quotaId` and
`RetryInfo.retryDelay` from the one parser of Google's error envelope (core/providers/gemini/errors.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from hpn_router.core.providers.anthropic.errors import parse_anthropic_error
from hpn_router.core.providers.gemini.errors import GeminiError, parse_gemini_error
from hpn_router.core.providers.mistral.errors import parse_mistral_error

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
CAPACITY_COOLDOWN_SECONDS = 60.0
_TRANSIENT_STATUS = {500: "500 Internal Error", 502: "502 Bad Gateway", 503: "503 Unavailable", 504: "504 Deadline Exceeded"}


def next_pacific_midnight(now: float) -> float:
    """Per-day quotas reset at midnight America/Los_Angeles (DST-aware)."""
    local = datetime.fromtimestamp(now, PACIFIC)
    tomorrow = (local + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC)
    return midnight.timestamp()


def _learned_limit(error: GeminiError) -> tuple[str, int] | None:
    """A request quota Gemini told us about (`quotaValue` is often absent)."""
    for violation in error.violations:
        if not violation.quota_value or "Requests" not in violation.quota_id:
            continue
        if "PerMinute" in violation.quota_id:
            return ("minute", violation.quota_value)
        if "PerDay" in violation.quota_id:
            return ("day", violation.quota_value)
    return None


def _classify_429(error: GeminiError) -> Outcome:
    # A per-day 429 still carries a short retryDelay: trusting it would hammer a key that is
    # spent until midnight (docs/gemini-wire-format.md#quotas). `limit: 0` means the model is not on this tier at all.
    learned = _learned_limit(error)
    if any("PerDay" in q for q in error.quota_ids):
        return Outcome(Verdict.QUOTA_EXHAUSTED, "429 per-day quota exhausted", quota_limit=learned)
    if re.search(r"\blimit: 0\b", error.message):
        return Outcome(Verdict.QUOTA_EXHAUSTED, "429 quota limit 0 for this model")
    return Outcome(Verdict.RATE_LIMITED, "429 Too Many Requests", error.retry_delay, learned)


def classify_response(status: int, body: bytes | str | None) -> Outcome:
    """What an upstream answer with `status` and `body` means for the key and the client."""
    if 200 <= status < 300:
        return OK
    error = parse_gemini_error(body)
    if status == 429:
        return _classify_429(error)
    if status == 400 and "API_KEY_INVALID" in error.reasons:
        return Outcome(Verdict.KEY_INVALID, "400 API key invalid or expired")
    if status == 400 and error.status == "FAILED_PRECONDITION":
        return Outcome(Verdict.KEY_PRECONDITION, "400 failed precondition (location or billing of the key's project)")
    if status in (401, 403):
        return Outcome(Verdict.KEY_FORBIDDEN, f"{status} permission denied")
    if status in _TRANSIENT_STATUS:
        return Outcome(Verdict.TRANSIENT, _TRANSIENT_STATUS[status])
    return Outcome(Verdict.CLIENT_ERROR, f"{status} client error")


def classify_mistral_response(status: int, body: bytes | str | None, headers: Mapping[str, str] | None = None) -> Outcome:
    """Mistral's answers: 401 is a dead key; a 429 with Retry-After cools the key's group for
    that long; a 429 for the monthly limit or the model tier's capacity (no Retry-After), and a
    402 (no credit, spend limit), park the group; 5xx retries elsewhere. Its 400/422 are the
    request's fault (a translator bug if anything): the client gets them."""
    if 200 <= status < 300:
        return OK
    if status == 401:
        return Outcome(Verdict.KEY_INVALID, "401 Mistral key unauthorized")
    if status == 402:
        return Outcome(Verdict.QUOTA_EXHAUSTED, "402 Mistral payment required (credits or spend limit)")
    if status == 403:
        return Outcome(Verdict.KEY_FORBIDDEN, "403 permission denied")
    if status == 429:
        return _classify_mistral_429(body, headers or {})
    if status in _TRANSIENT_STATUS:
        return Outcome(Verdict.TRANSIENT, _TRANSIENT_STATUS[status])
    return Outcome(Verdict.CLIENT_ERROR, f"{status} client error")


def _classify_mistral_429(body: bytes | str | None, headers: Mapping[str, str]) -> Outcome:
    retry_after = _retry_after(headers)
    message = parse_mistral_error(body).message.lower()
    if "monthly" in message:
        return Outcome(Verdict.QUOTA_EXHAUSTED, "429 Mistral monthly usage limit")
    if retry_after is None and "capacity" in message:
        # The model's service tier is full for everyone on this plan: wait a while, not a second.
        return Outcome(Verdict.RATE_LIMITED, "429 Mistral service tier capacity exceeded", CAPACITY_COOLDOWN_SECONDS)
    return Outcome(Verdict.RATE_LIMITED, "429 Too Many Requests", retry_after)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (any case of the header name); a date or garbage counts as absent."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


# Anthropic's 400s that are about the account, not the request: no credit, a workspace's or
# organization's spend limit. The group is parked; another organization's key may serve.
_ANTHROPIC_BILLING_400 = ("credit balance is too low", "usage limits", "spend limit")
_ANTHROPIC_RESETS = tuple(f"anthropic-ratelimit-{kind}-reset" for kind in ("requests", "tokens", "input-tokens", "output-tokens"))


def classify_anthropic_response(
    status: int, body: bytes | str | None, headers: Mapping[str, str] | None = None, now: float = 0.0
) -> Outcome:
    """Anthropic's answers: 401 is a dead key; 403 a key without access; a 429 cools the key's
    group (its organization) for `retry-after` (else until the `anthropic-ratelimit-*-reset`
    time); the spend-limit 429, 402 billing and the 400s about credit or spend limits park the
    group; 529 overloaded and 5xx retry elsewhere without penalty (the service, not the key).
    Other 4xx are the request's: the client gets them."""
    if 200 <= status < 300:
        return OK
    error = parse_anthropic_error(body)
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if status == 401:
        return Outcome(Verdict.KEY_INVALID, "401 Anthropic key invalid")
    if status == 403:
        return Outcome(Verdict.KEY_FORBIDDEN, "403 Anthropic permission denied")
    if status == 402:
        return Outcome(Verdict.QUOTA_EXHAUSTED, "402 Anthropic billing error")
    if status == 400 and any(text in error.message.lower() for text in _ANTHROPIC_BILLING_400):
        return Outcome(Verdict.QUOTA_EXHAUSTED, "400 Anthropic credit or spend limit reached")
    if status == 429 and error.code == "enforced_spend_limit_reached":
        return Outcome(Verdict.QUOTA_EXHAUSTED, "429 Anthropic monthly spend limit reached")
    if status == 429:
        return Outcome(Verdict.RATE_LIMITED, "429 Too Many Requests", _anthropic_wait(lowered, now))
    if status == 529:
        return Outcome(Verdict.TRANSIENT, "529 Overloaded")
    if status in _TRANSIENT_STATUS:
        return Outcome(Verdict.TRANSIENT, _TRANSIENT_STATUS[status])
    return Outcome(Verdict.CLIENT_ERROR, f"{status} client error")


def _anthropic_wait(headers: Mapping[str, str], now: float) -> float | None:
    """`retry-after-ms`, then `retry-after`, then the latest `anthropic-ratelimit-*-reset` still ahead."""
    try:
        if "retry-after-ms" in headers:
            return max(float(headers["retry-after-ms"]) / 1000, 0.0)
    except ValueError:
        pass
    retry_after = _retry_after(headers)
    if retry_after is not None:
        return retry_after
    resets = [_timestamp(headers[name]) for name in _ANTHROPIC_RESETS if name in headers]
    ahead = [t - now for t in resets if t is not None and t > now]
    return max(ahead) if ahead else None


def _timestamp(text: str) -> float | None:
    """An RFC 3339 time (`2026-12-02T05:00:00Z`) as epoch seconds; None when it is not one."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def classify_transport_error(kind: str) -> Outcome:
    """Connection refused/reset or timeout before an answer: retry on another key, and let
    the pool skip this one for a while, so the next requests do not wait for it too."""
    return Outcome(Verdict.UNANSWERED, kind)
