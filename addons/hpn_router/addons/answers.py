"""Helpers shared by the addons for answering a flow locally."""

from __future__ import annotations

import json
from typing import Any

from mitmproxy import http

from hpn_router import meta
from hpn_router.errors import RouterError, to_openai_error


def answer_json(flow: http.HTTPFlow, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    """Set the router's own final answer: later addons must not translate it again."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    flow.response = http.Response.make(status, body, {"content-type": "application/json", **(headers or {})})
    flow.metadata[meta.LOCAL] = True


def answer_error(flow: http.HTTPFlow, err: RouterError) -> None:
    status, body, headers = to_openai_error(err)
    flow.response = http.Response.make(status, body, headers)
    flow.metadata[meta.LOCAL] = True


def is_client_flow(flow: http.HTTPFlow) -> bool:
    """A live client request nobody has answered yet (mitmproxy's guard, plus our own
    recorded attempt flows, which are never handled again)."""
    return not (flow.response or flow.error or not flow.live or meta.is_attempt(flow.metadata))
