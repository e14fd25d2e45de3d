"""CORS: which web origins may call the router from a browser, and the headers that say so.

Browsers send `Origin` on cross-origin requests and ask first (a preflight: `OPTIONS` with
`Access-Control-Request-Method`) before any request with `Authorization` or a JSON body. An
origin listed in `server.cors_origins` gets its own origin back in
`Access-Control-Allow-Origin` (with `Vary: Origin`, so shared caches keep answers per origin);
`("*",)` answers `*` to every origin. The router never sends
`Access-Control-Allow-Credentials`: its clients authenticate with a bearer token they set
themselves, not with cookies, so browsers never attach the user's cookies for it.

Usage:
    allow = allow_origin(request_origin, config.server.cors_origins)
    if allow and is_preflight(method, request_origin, requested_method):
        headers = preflight_headers(allow, allowed_methods(path), requested_headers)
"""

from __future__ import annotations

import re

ANY = "*"
PREFLIGHT_MAX_AGE_SECONDS = 600  # browsers cache a preflight this long (Chrome caps it at 7200)
# The router's own answer headers a page may read (browsers hide all but a few by default).
EXPOSED_HEADERS = ("X-HPN-Cache", "X-HPN-Saved-USD", "Retry-After", "Retry-After-Ms", "X-Should-Retry", "Allow")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP header name


def allow_origin(origin: str | None, allowed: tuple[str, ...]) -> str | None:
    """The `Access-Control-Allow-Origin` value for a request from `origin`, or None when
    that origin may not read the answer (or the request carries no origin)."""
    if not origin or not allowed:
        return None
    if allowed == (ANY,):
        return ANY
    return origin if origin.strip().lower() in allowed else None


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    return method == "OPTIONS" and bool(origin) and bool(requested_method)


def preflight_headers(allow: str, methods: tuple[str, ...], requested_headers: str | None) -> dict[str, str]:
    """A preflight's answer: the path's methods, and the request headers the page asked to
    send (the router ignores the ones it does not use)."""
    headers = {
        "access-control-allow-origin": allow,
        "access-control-allow-methods": ", ".join(methods),
        "access-control-max-age": str(PREFLIGHT_MAX_AGE_SECONDS),
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    names = [name.strip().lower() for name in (requested_headers or "").split(",")]
    if valid := [name for name in names if _TOKEN.match(name)]:
        headers["access-control-allow-headers"] = ", ".join(dict.fromkeys(valid))
    return headers


def answer_headers(allow: str) -> dict[str, str]:
    """What every answer to an allowed origin carries (Vary is the caller's: it appends)."""
    return {"access-control-allow-origin": allow, "access-control-expose-headers": ", ".join(EXPOSED_HEADERS)}
