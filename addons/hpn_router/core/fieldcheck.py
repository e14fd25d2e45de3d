"""The pieces every inbound request check shares: the error naming its field, numbers that are
never ``bool``, data URLs.

``fail(param, problem)`` is the ``InvalidRequest`` whose message starts with the field path and
whose ``param`` is that path, so the 400 tells the caller exactly what to fix; the OpenAI chat,
Responses and Anthropic Messages checks all raise through it.
"""

from __future__ import annotations

import math
import re

from .errors import InvalidRequest

DATA_URL = re.compile(r"data:(?P<mime>[\w.+\-]+/[\w.+\-]+)(?:;[^,;]*)*?;base64,(?P<data>.*)", re.S)
UNSUPPORTED = "unsupported_value"  # the code of an input the upstream cannot take (a 400 all the same)


def fail(param: str, problem: str, code: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param, code=code)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``(mime, base64 data)`` of a ``data:<mime>[;…];base64,<data>`` URL, else None."""
    match = DATA_URL.fullmatch(url)
    return (match["mime"], match["data"]) if match else None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]
