"""Helpers for addon tests: router configs, client chat flows as the addons see them, and a
loguru capture (the router logs through loguru, which pytest's caplog does not see)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig, parse_config
from hpn_router.core.inbound.openai_chat_answer import usage_from_openai
from loguru import logger
from mitmproxy import http
from mitmproxy.test import tflow

POOL_KEY = "AIzaSyUnitTestKey01AbCdEfGhIjKlMnOpQrSt"


def router_config(**sections: Any) -> RouterConfig:
    return parse_config(sections, {"HPN_API_KEYS": POOL_KEY})


def chat_flow(body: dict[str, Any] | bytes, *, headers: dict[str, str] | None = None, client: str = "anonymous") -> http.HTTPFlow:
    """A client's chat request after Endpoints and Access looked at it."""
    flow = tflow.tflow()
    flow.request.method = "POST"
    flow.request.path = "/v1/chat/completions"
    flow.request.headers.clear()
    flow.request.headers.update({"content-type": "application/json", **(headers or {})})
    flow.request.content = body if isinstance(body, bytes) else json.dumps(body).encode()
    flow.request.timestamp_start = time.time()
    ctx = context(flow)
    ctx.route, ctx.client = "chat", client
    return flow


def completion(text: str = "Hello!", *, model: str = "gpt-4", usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text, "refusal": None}, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": usage if usage is not None else {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
    }


def answer_from_upstream(flow: http.HTTPFlow, body: dict[str, Any], status: int = 200) -> None:
    """What ChatTranslation leaves after a non-streamed Gemini answer."""
    flow.response = http.Response.make(status, json.dumps(body), {"content-type": "application/json"})
    ctx = context(flow)
    if status == 200:
        ctx.usage, ctx.model = usage_from_openai(body.get("usage")), body.get("model")
    else:
        ctx.local = True  # ChatTranslation's answer_error


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda m: records.append({"msg": m.record["message"], **m.record["extra"]}), level="DEBUG")
    try:
        yield records
    finally:
        logger.remove(sink)
