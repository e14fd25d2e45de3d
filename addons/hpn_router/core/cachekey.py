"""Canonical cache key for a chat request (the ChatRequest model), and the cacheability rules.

Two requests share a cache entry exactly when they would get the same answer:
same endpoint, same upstream model (after model-name mapping, so `gpt-4` and an
alias of it share entries), same client, and the same request apart from what
only changes the *delivery* (`stream`, `include_usage`) or the client's own model
name. The inbound translator has already left out bookkeeping fields (OpenAI's
`metadata`, `store`, `service_tier`, `prompt_cache_retention`) and kept the fields
it does not read in `extra`, so those still tell requests apart. Key order,
whitespace and `1` vs `1.0` do not matter.

The end user (`end_user`, and OpenAI's `safety_identifier` and `prompt_cache_key`
in `extra`) stays in the key: one app with one client token serves many people,
and one person must never get the answer another person's request produced.

Streaming and non-streaming requests share an entry on purpose: the cache
stores the complete chat.completion and re-emits it as SSE for a streaming hit.

Usage:
    if is_cacheable(request, cache_sampled=cfg.cache_sampled):
        key = cache_key(request, upstream_model="gemini-2.0-flash",
                        endpoint="/v1/chat/completions", client_id=client)
        skip_lookup, skip_store = request_cache_directives(headers.get("cache-control"), headers.get("pragma"))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from .model.request import ChatRequest

# Delivery only, or replaced by the mapped upstream model (so aliases share an entry).
IGNORED_FIELDS = frozenset({"stream", "include_usage", "model"})

# OpenAI's documented default; a request without `temperature` is sampled.
DEFAULT_TEMPERATURE = 1.0


def cache_key(request: ChatRequest, *, upstream_model: str, endpoint: str, client_id: str | None) -> str:
    """SHA-256 hex digest of the canonical form of the request.

    `client_id` isolates tenants: two clients never share an entry (None is a
    client of its own, for deployments without client keys).
    """
    body = _plain(request)
    for name in IGNORED_FIELDS:
        body.pop(name, None)
    canonical = {"endpoint": endpoint, "model": upstream_model, "client": client_id, "body": body}
    # The encoder walks the tuples and plain values itself and calls _plain for each model
    # object inside: one pass, no copy of the request.
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)
    # surrogatepass: a lone surrogate from a JSON "\ud800" escape must hash,
    # not raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> dict[str, Any]:
    """A model object as its type name and its set fields (so parts of different kinds never
    collide), integral floats as ints (JSON `1.0` is `1`), also inside JSON values it holds.
    Type checks by identity: this runs for every part of every chat request."""
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        if isinstance(value, Mapping):  # a read-only mapping some translator kept
            return {k: _normalize(v) for k, v in value.items()}
        names = _FIELDS[cls] = tuple(f.name for f in fields(value))  # TypeError for anything else
    out: dict[str, Any] = {"type": cls.__name__}
    for name in names:
        item = getattr(value, name)
        if item is None:
            continue
        kind = type(item)
        if kind is float or kind is dict:
            item = _normalize(item)
        out[name] = item
    return out


def _normalize(value: Any) -> Any:
    """Map integral floats to ints (JSON `1.0` and `1` are the same number)."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {k: _normalize(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_normalize(v) for v in value]
    return value


def is_cacheable(request: ChatRequest, *, cache_sampled: bool) -> bool:
    """Whether a response to `request` may be stored and served from the cache.

    A request is *sampled* when it asks for several choices (`candidate_count > 1`) or its
    temperature is above 0 -- including a missing temperature, since the
    model default (1.0) samples. Replaying a sampled answer returns the same
    text where a fresh call would likely differ.

    * `cache_sampled=False`: only deterministic requests (`temperature: 0`,
      `candidate_count` absent or 1) are cached. No client ever sees a replay it could not
      have got from the model, but most clients never set a temperature, so
      the cache rarely hits.
    * `cache_sampled=True`: every request is cacheable, so exact duplicates
      within the TTL get the first answer (the "flash cache for duplicate
      requests" behaviour). A client that wants a fresh sample sends
      `Cache-Control: no-cache`.
    """
    if cache_sampled:
        return True
    n = 1 if request.candidate_count is None else request.candidate_count
    temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
    return n <= 1 and temperature <= 0


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
