"""Canonical cache key for an OpenAI chat request, and the cacheability rules.

Two requests share a cache entry exactly when they would get the same answer:
same endpoint, same Gemini model (after model-name mapping, so `gpt-4` and an
alias of it share entries), same client, and the same body apart from fields
that only change the *delivery* (`stream`), bookkeeping (`metadata`, `store`,
`service_tier`, `prompt_cache_retention`) or the body's own `model` name. Key
order, whitespace and `1` vs `1.0` do not matter.

The fields that name the app's end user (`user`, and OpenAI's successors of it,
`safety_identifier` and `prompt_cache_key`) stay in the key: one app with one
client token serves many people, and one person must never get the answer
another person's request produced.

Streaming and non-streaming requests share an entry on purpose: the cache
stores the complete chat.completion and re-emits it as SSE for a streaming hit.

Usage:
    if is_cacheable(body, cache_sampled=cfg.cache_sampled):
        key = cache_key(body, gemini_model="gemini-2.0-flash",
                        endpoint="/v1/chat/completions", client_id=client)
        skip_lookup, skip_store = request_cache_directives(headers.get("cache-control"), headers.get("pragma"))
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IGNORED_FIELDS = frozenset(
    {
        "stream",
        "stream_options",
        "metadata",
        "store",
        "service_tier",
        "prompt_cache_retention",
        # Replaced by the mapped Gemini model, so aliases share an entry.
        "model",
    }
)

# OpenAI's documented default; a request without `temperature` is sampled.
DEFAULT_TEMPERATURE = 1.0


def cache_key(body: dict[str, Any], *, gemini_model: str, endpoint: str, client_id: str | None) -> str:
    """SHA-256 hex digest of the canonical form of the request.

    `client_id` isolates tenants: two clients never share an entry (None is a
    client of its own, for deployments without client keys).
    """
    canonical = {
        "endpoint": endpoint,
        "model": gemini_model,
        "client": client_id,
        "body": {k: _normalize(v) for k, v in body.items() if k not in IGNORED_FIELDS},
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate from a JSON "\ud800" escape must hash,
    # not raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _normalize(value: Any) -> Any:
    """Map integral floats to ints (JSON `1.0` and `1` are the same number)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def is_cacheable(body: dict[str, Any], *, cache_sampled: bool) -> bool:
    """Whether a response to `body` may be stored and served from the cache.

    A request is *sampled* when it asks for several choices (`n > 1`) or its
    temperature is above 0 -- including a missing temperature, since the
    model default (1.0) samples. Replaying a sampled answer returns the same
    text where a fresh call would likely differ.

    * `cache_sampled=False`: only deterministic requests (`temperature: 0`,
      `n` absent or 1) are cached. No client ever sees a replay it could not
      have got from the model, but most clients never set a temperature, so
      the cache rarely hits.
    * `cache_sampled=True`: every request is cacheable, so exact duplicates
      within the TTL get the first answer (the "flash cache for duplicate
      requests" behaviour). A client that wants a fresh sample sends
      `Cache-Control: no-cache`.

    Malformed `n`/`temperature` values make a request uncacheable; request
    validation reports them, the cache does not guess.
    """
    if cache_sampled:
        return True
    n = body.get("n", 1)
    temperature = body.get("temperature", DEFAULT_TEMPERATURE)
    if n is None:
        n = 1
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE
    if not _is_number(n) or not _is_number(temperature):
        return False
    return bool(n <= 1 and temperature <= 0)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_cache_control(header: str | None) -> tuple[bool, bool]:
    """Return `(skip_lookup, skip_store)` from a request Cache-Control header.

    `no-cache` skips the lookup (the client wants a fresh answer, which is
    still stored); `no-store` skips storing. Directive names are
    case-insensitive; arguments and other directives (`max-age`, ...) are
    ignored.
    """
    if not header:
        return False, False
    names = {part.split("=", 1)[0].strip().lower() for part in header.split(",")}
    return "no-cache" in names, "no-store" in names


def request_cache_directives(cache_control: str | None, pragma: str | None) -> tuple[bool, bool]:
    """`(skip_lookup, skip_store)` from a request's Cache-Control and Pragma headers.

    HTTP/1.0 clients ask for a fresh answer with `Pragma: no-cache`; it counts as
    `Cache-Control: no-cache` (lookup skipped, the fresh answer stored) when the
    request has no Cache-Control header, which otherwise decides alone (RFC 9111 §5.4).
    """
    if cache_control:
        return parse_cache_control(cache_control)
    if not pragma:
        return False, False
    return "no-cache" in {part.strip().lower() for part in pragma.split(",")}, False
