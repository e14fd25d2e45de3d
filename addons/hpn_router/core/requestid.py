"""The id that finds one request in the log, in mitmweb and in the client's answer. Pure.

A client's own `X-Request-Id` is kept when it is sane (a plain token of bounded length), so the
client's logs and the router's share one id; anything else is replaced by a new one, so a
header cannot inject text into a log line or grow it without bound.

Usage:
    request_id(flow.request.headers.get("x-request-id"), new=lambda: "req_" + secrets.token_hex(12))
"""

from __future__ import annotations

import re
from collections.abc import Callable

HEADER = "X-Request-Id"
MAX_LENGTH = 128
_SANE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._:+=/-]{{0,{MAX_LENGTH - 1}}}$")


def is_sane(value: str) -> bool:
    return bool(_SANE.match(value))


def request_id(sent: str | None, *, new: Callable[[], str]) -> str:
    """The client's id when it sent a sane one, else a new one."""
    if sent is not None and is_sane(sent):
        return sent
    return new()
