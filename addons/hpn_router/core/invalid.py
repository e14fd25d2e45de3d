"""The one exception the pure core raises for a client mistake.

The router turns it into HTTP 400 with the OpenAI envelope
``{"error": {"message", "type": "invalid_request_error", "param", "code"}}``.
"""

from __future__ import annotations


class InvalidRequest(ValueError):
    """A request the client must fix; ``param`` names the offending field path.

    ``param`` uses OpenAI's dotted/indexed spelling (``messages[2].role``) so
    SDK users see exactly which part of their request was rejected.
    """

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def __repr__(self) -> str:
        return f"InvalidRequest({self.message!r}, param={self.param!r}, code={self.code!r})"
