"""The log lines KeyRouting writes: an upstream answer (or none), a key rotation, a key passed
over, a fallback taken or skipped. Keys appear by name only, never by value; each line carries
its `event` so the log can be filtered and counted.
"""

from __future__ import annotations

from loguru import logger

from hpn_router.core.attempts import Attempt, KeyPassedOver
from hpn_router.core.transport import UpstreamRequest


def log_served(request: UpstreamRequest, key_name: str | None, attempts: list[Attempt], *, latency_ms: float, rid: str) -> None:
    """One line per model tried: who answered (the key's name), after how many attempts, how fast."""
    logger.bind(
        event="upstream",
        request_id=rid,
        provider=request.provider,
        model=request.model,
        stream=request.stream,
        key=key_name,
        attempts=len(attempts),
        status=attempts[-1].status if attempts else None,
        latency_ms=latency_ms,
    ).info(f"{request.provider.capitalize()} answered" if key_name else "No key could answer")


def log_rotation(failed: Attempt, next_key: str) -> None:
    logger.bind(
        event="key_rotation",
        reason=failed.outcome.reason,
        old_key=failed.key_name,
        new_key=next_key,
        retry_attempt=failed.number,
    ).warning("Key rotation triggered")


def log_fallback(failed: str, to: str, why: str, rid: str) -> None:
    logger.bind(event="fallback", request_id=rid, from_model=failed, to_model=to, reason=why).warning(
        "↪ FALLBACK {} → {} ({})", failed, to, why
    )


def log_skipped(name: str, why: str, rid: str) -> None:
    logger.bind(event="fallback_skipped", request_id=rid, model=name, reason=why).warning("Fallback {} skipped: {}", name, why)


def log_passed_over(event: KeyPassedOver) -> None:
    logger.bind(
        event="key_unanswered",
        key=event.key_name,
        reason=event.reason,
        failures=event.failures,
        skipped_seconds=event.skipped_seconds,
    ).warning("Key did not answer; passed over for a while")
