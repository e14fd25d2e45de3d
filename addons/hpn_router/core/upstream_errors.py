"""Gemini's, Mistral's and Anthropic's error answers that reach the client, as the router's errors
(docs/gemini-wire-format.md#errors-to-the-client).

Only answers the pool does not retry get here: request-shaped 400s, 404 for an unknown
model, and 5xx after the retries ran out. Google's envelope (and its array form) never
reaches an OpenAI SDK as-is: the error is rendered in the client's format like any other.
"""

from __future__ import annotations

from hpn_router.core.errors import InvalidRequestError, NotFoundError, RouterError, UpstreamError
from hpn_router.core.providers.anthropic.errors import parse_anthropic_error
from hpn_router.core.providers.gemini.errors import parse_gemini_error
from hpn_router.core.providers.mistral.errors import parse_mistral_error


def gemini_error_to_openai(status: int, body: bytes) -> RouterError:
    error = parse_gemini_error(body)
    message = error.message or f"Gemini answered HTTP {status}."
    if status == 404:
        return NotFoundError(message, code="model_not_found")
    if status in (400, 422):
        param = error.field_violations[0] if error.field_violations else None
        return InvalidRequestError(f"Gemini rejected the request: {message}", param=param)
    if 400 <= status < 500:
        return UpstreamError(message, status=status, code=(error.status or "upstream_error").lower())
    return UpstreamError(message, status=status, code="upstream_error")


def mistral_error_to_openai(status: int, body: bytes) -> RouterError:
    """Mistral's varied error bodies (core/providers/mistral/errors.py) in the client's format."""
    error = parse_mistral_error(body)
    message = error.message or f"Mistral answered HTTP {status}."
    if status == 404:
        return NotFoundError(message, code="model_not_found")
    if status in (400, 422):
        return InvalidRequestError(f"Mistral rejected the request: {message}", code=error.code or error.type or None)
    return UpstreamError(message, status=status, code=error.type or "upstream_error")


def anthropic_error_to_openai(status: int, body: bytes) -> RouterError:
    """Anthropic's `{"type": "error", "error": {...}}` in the client's format."""
    error = parse_anthropic_error(body)
    message = error.message or f"Anthropic answered HTTP {status}."
    if status == 404:
        return NotFoundError(message, code="model_not_found")
    if status in (400, 413):
        return InvalidRequestError(f"Anthropic rejected the request: {message}", code=error.type or None)
    return UpstreamError(message, status=status, code=error.type or "upstream_error")


def upstream_error_to_openai(provider: str, status: int, body: bytes) -> RouterError:
    if provider == "mistral":
        return mistral_error_to_openai(status, body)
    if provider == "anthropic":
        return anthropic_error_to_openai(status, body)
    return gemini_error_to_openai(status, body)
