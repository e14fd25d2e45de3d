"""aiohttp app that plays the Anthropic Messages API for tests, benchmarks and the demo.

Routes: POST /v1/messages (JSON or SSE), POST /v1/messages/count_tokens, GET /v1/models
(after_id / before_id / limit pagination), GET /v1/models/{id}. Auth: `x-api-key` or
`Authorization: Bearer`, plus a dated `anthropic-version`. Every answer carries `request-id`;
answers for a known key carry its `anthropic-organization-id`, and message answers the
`anthropic-ratelimit-*` headers. All mutable state (per-key behaviour and script, per-minute
counters per organization and model class, seen cache prefixes, the request log) lives in one
`Emulator` held by the app. Admin endpoints under `/_emulator/` need no key.

Usage:
    app = make_app(load_scenario("configs/emulator/anthropic-test.yaml"), clock=lambda: 1_767_225_600.0)
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from emulator_kit.server import ScriptedEmulator, add_admin_routes, drop, write_frame

from . import answers, errors
from .errors import AnthropicError
from .scenario import KEY_BEHAVIOURS, KeySpec, ModelInfo, Scenario, catalogue, check_behaviour, model_resource, resolve
from .validate import ValidationContext, validate_messages

MAX_BODY = 32 * 1024 * 1024  # larger requests get 413 request_too_large
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REQUESTS_LIMIT = 4_000  # what the rate-limit headers report when the key has no `rpm`
INPUT_LIMIT, OUTPUT_LIMIT = 2_000_000, 400_000
_SIMPLE_ERRORS: dict[str, Callable[[], AnthropicError]] = {
    "invalid": errors.invalid_key,
    "forbidden": errors.forbidden,
    "billing": errors.billing,
    "credit": errors.credit_too_low,
    "internal": errors.internal,
    "timeout": errors.timeout,
}


@dataclass(slots=True)
class Exchange:
    """One API request as the stats log sees it (never the key value itself)."""

    request: web.Request
    request_id: str
    key_index: int
    auth: str  # "x-api-key", "bearer" or "" (none)
    route: str | None  # "messages", "count_tokens", "list", "get" or None (no such route)
    model: str | None = None
    stream: bool = False
    rate_headers: dict[str, str] | None = None


class Emulator(ScriptedEmulator):
    """Runtime state of one emulated Anthropic service."""

    KEY_BEHAVIOURS = KEY_BEHAVIOURS

    def __init__(self, scenario: Scenario, clock: Callable[[], float]) -> None:
        self.models: dict[str, ModelInfo] = catalogue(scenario)
        super().__init__(scenario, clock)

    def reset(self) -> None:
        """Back to the loaded scenario: behaviours, scripts, counters, cache and the log."""
        super().reset()
        self.minute_counts: dict[tuple[str, str], tuple[int, int]] = {}
        self.cached: set[str] = set()

    def record(self, ex: Exchange, status: int) -> None:
        self.log.append(
            {
                "key_index": ex.key_index,
                "path": ex.request.path,
                "model": ex.model,
                "stream": ex.stream,
                "status": status,
                "auth": ex.auth,
                "version": ex.request.headers.get("anthropic-version"),
                "beta": ex.request.headers.get("anthropic-beta"),
                "request_id": ex.request_id,
                "t": self.clock(),
            }
        )

    def behaviour_error(self, behaviour: str, spec: KeySpec) -> AnthropicError | None:
        if behaviour in _SIMPLE_ERRORS:
            return _SIMPLE_ERRORS[behaviour]()
        if behaviour == "rate_limit":
            return errors.rate_limited(spec.organization_id, spec.rpm or REQUESTS_LIMIT, spec.retry_after)
        if behaviour in ("overloaded", "stream_error"):
            return errors.overloaded(spec.retry_after)
        if behaviour == "spend_limit":
            return errors.spend_limit(self._next_month())
        if behaviour == "workspace_limit":
            return errors.workspace_limit(self._next_month())
        return None

    def _next_month(self) -> str:
        now = datetime.fromtimestamp(self.clock(), UTC)
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return f"{year:04d}-{month:02d}-01 at 00:00 UTC"

    def take_request(self, spec: KeySpec, info: ModelInfo) -> tuple[AnthropicError | None, dict[str, str]]:
        """Count one message request against the organization's per-model-class minute; (error, rate-limit headers)."""
        now = self.clock()
        bucket, minute = (spec.organization_id, info.rate_class), int(now // 60)
        window = self.minute_counts.get(bucket, (minute, 0))
        used = window[1] if window[0] == minute else 0
        limit = spec.rpm if spec.rpm is not None else REQUESTS_LIMIT
        reset = datetime.fromtimestamp((minute + 1) * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if used >= limit:
            wait = None if spec.retry_after is None else max(1, math.ceil(60 - now % 60))
            return errors.rate_limited(spec.organization_id, limit, wait), _rate_headers(limit, 0, reset)
        self.minute_counts[bucket] = (minute, used + 1)
        return None, _rate_headers(limit, limit - used - 1, reset)

    def cache_hit(self, body: dict[str, Any]) -> bool | None:
        """None without cache_control; else whether this prefix was written before (and remember it)."""
        prefix = answers.cache_prefix(body)
        if prefix is None:
            return None
        hit = prefix[0] in self.cached
        self.cached.add(prefix[0])
        return hit


def _rate_headers(limit: int, remaining: int, reset: str) -> dict[str, str]:
    headers = {
        "anthropic-ratelimit-requests-limit": str(limit),
        "anthropic-ratelimit-requests-remaining": str(remaining),
        "anthropic-ratelimit-requests-reset": reset,
    }
    for name, value in (("input-tokens", INPUT_LIMIT), ("output-tokens", OUTPUT_LIMIT), ("tokens", INPUT_LIMIT + OUTPUT_LIMIT)):
        headers |= {
            f"anthropic-ratelimit-{name}-{part}": v for part, v in (("limit", str(value)), ("remaining", str(value)), ("reset", reset))
        }
    return headers


EMULATOR = web.AppKey("emulator", Emulator)


def make_app(scenario: Scenario, *, clock: Callable[[], float] = time.time) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY + 1024 * 1024)  # read a little past the limit to answer 413 ourselves
    emulator = Emulator(scenario, clock)
    app[EMULATOR] = emulator
    add_admin_routes(app, EMULATOR, check_behaviour)
    app.router.add_route("*", "/{rest:.*}", _api)
    app.on_shutdown.append(emulator.shutdown)
    return app


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _headers(ex: Exchange) -> dict[str, str]:
    emu = ex.request.app[EMULATOR]
    headers = {"request-id": ex.request_id}
    if ex.key_index >= 0:
        headers["anthropic-organization-id"] = emu.keys[ex.key_index].spec.organization_id
    return headers | (ex.rate_headers or {})


def _reply(ex: Exchange, status: int, body: Any) -> web.Response:
    ex.request.app[EMULATOR].record(ex, status)
    return json_response(status, body, _headers(ex))


def _fail(ex: Exchange, error: AnthropicError) -> web.Response:
    ex.request.app[EMULATOR].record(ex, error.status)
    return json_response(error.status, error.body(ex.request_id), _headers(ex) | error.headers())


def _route(path: str, method: str) -> str | None:
    if path == "/v1/messages" and method == "POST":
        return "messages"
    if path == "/v1/messages/count_tokens" and method == "POST":
        return "count_tokens"
    if path == "/v1/models" and method == "GET":
        return "list"
    if path.startswith("/v1/models/") and "/" not in path[len("/v1/models/") :] and method == "GET":
        return "get"
    return None


def _key(request: web.Request) -> tuple[str, str]:
    """(key, how it came): x-api-key wins, else an `Authorization: Bearer` token (OAuth-style, as newer SDKs send it)."""
    if "x-api-key" in request.headers:
        return request.headers["x-api-key"], "x-api-key"
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), "bearer"
    return "", ""


async def _api(request: web.Request) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    emu.seq += 1
    key, auth = _key(request)
    request_id = answers.make_id("req_", f"{emu.seq}:{emu.clock()}")
    ex = Exchange(request, request_id, emu.key_index.get(key, -1), auth, _route(request.path, request.method))
    if not key:
        return _fail(ex, errors.missing_key())
    if ex.key_index < 0:
        return _fail(ex, errors.invalid_key())
    version = request.headers.get("anthropic-version")
    if version is None:
        return _fail(ex, errors.missing_version())
    if not _VERSION.match(version):
        return _fail(ex, errors.bad_version(version))
    if ex.route is None:
        return _fail(ex, errors.not_found())
    behaviour = emu.next_behaviour(ex.key_index, ex.route in ("messages", "count_tokens"))
    spec = emu.keys[ex.key_index].spec
    await asyncio.sleep((spec.latency_ms if spec.latency_ms is not None else emu.scenario.latency_ms) / 1000)
    return await _behave(emu, ex, behaviour)


async def _behave(emu: Emulator, ex: Exchange, behaviour: str) -> web.StreamResponse:
    if behaviour == "hang":
        emu.record(ex, 0)
        return await emu.hang(ex)
    if behaviour == "drop":
        emu.record(ex, 0)
        return drop(ex.request)
    if ex.route == "list":
        error = emu.behaviour_error(behaviour, emu.keys[ex.key_index].spec)
        return _fail(ex, error) if error else _list_models(emu, ex)
    if ex.route == "get":
        error = emu.behaviour_error(behaviour, emu.keys[ex.key_index].spec)
        info = resolve(emu.models, ex.request.path.rsplit("/", 1)[1])
        if error is None and info is None:
            error = errors.not_found(f"model: {ex.request.path.rsplit('/', 1)[1]}")
        return _fail(ex, error) if error else _reply(ex, 200, model_resource(info))  # type: ignore[arg-type]
    return await _call(emu, ex, behaviour)


async def _call(emu: Emulator, ex: Exchange, behaviour: str) -> web.StreamResponse:
    raw = await ex.request.read()
    if len(raw) > MAX_BODY:
        return _fail(ex, errors.request_too_large())
    try:
        body = json.loads(raw)
    except ValueError:
        return _fail(ex, errors.invalid_request("There was an error parsing the body of your request: invalid JSON"))
    if isinstance(body, dict):
        ex.model, ex.stream = str(body.get("model")), body.get("stream") is True and ex.route == "messages"
    if behaviour == "stream_cut" and not ex.stream:
        emu.record(ex, 0)
        return drop(ex.request)
    spec = emu.keys[ex.key_index].spec
    error = emu.behaviour_error(behaviour, spec) if behaviour != "stream_error" or not ex.stream else None
    if error is not None:
        return _fail(ex, error)
    info = resolve(emu.models, body.get("model")) if isinstance(body, dict) and isinstance(body.get("model"), str) else None
    if isinstance(body, dict) and isinstance(body.get("model"), str) and info is None:
        return _fail(ex, errors.model_not_found(body["model"]))
    ctx = ValidationContext(info or next(iter(emu.models.values())), emu.scenario.role_check, ex.route == "count_tokens")
    error = validate_messages(body, ctx)
    if error is not None or info is None:
        return _fail(ex, error or errors.invalid_request("model: Input should be a valid string"))
    if ex.route == "count_tokens":
        return _reply(ex, 200, answers.count_tokens_response(body))
    error, ex.rate_headers = emu.take_request(spec, info)
    if error is not None:
        return _fail(ex, error)
    message = answers.message_response(body, answers.AnswerContext(info, emu.seq, emu.cache_hit(body)))
    if not ex.stream:
        return _reply(ex, 200, message)
    return await _stream(emu, ex, answers.stream_events(message), behaviour)


def _list_models(emu: Emulator, ex: Exchange) -> web.Response:
    query = ex.request.query
    try:
        limit = int(query.get("limit") or 20)
    except ValueError:
        return _fail(ex, errors.invalid_request("limit: Input should be a valid integer"))
    if not 1 <= limit <= 1000:
        return _fail(ex, errors.invalid_request("limit: Input should be greater than or equal to 1 and less than or equal to 1000"))
    ids = list(emu.models)
    after, before = query.get("after_id"), query.get("before_id")
    for cursor in (after, before):
        if cursor is not None and cursor not in emu.models:
            return _fail(ex, errors.invalid_request(f"Invalid cursor: {cursor}"))
    if before is not None:
        end = ids.index(before)
        page, has_more = ids[max(0, end - limit) : end], end - limit > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        page, has_more = ids[start : start + limit], start + limit < len(ids)
    body = {
        "data": [model_resource(emu.models[i]) for i in page],
        "has_more": has_more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }
    return _reply(ex, 200, body)


async def _stream(emu: Emulator, ex: Exchange, events: list[tuple[str, dict[str, Any]]], behaviour: str) -> web.StreamResponse:
    """SSE: `event: <type>` + `data: <json>` per event, LF framing, no [DONE]; scripted errors after the 200."""
    headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"} | _headers(ex)
    response = web.StreamResponse(status=200, headers=headers)
    emu.record(ex, 200)
    if behaviour in ("stream_error", "stream_cut"):
        events = events[:4]  # message_start, the first block's start, the ping and its first delta
    if behaviour == "stream_error":
        events = [*events, ("error", errors.overloaded().event())]
    try:
        await response.prepare(ex.request)
        for n, (name, data) in enumerate(events):
            if n:
                await asyncio.sleep(emu.scenario.stream_delay_ms / 1000)
            frame = f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            await write_frame(response, frame.encode(), emu.scenario.split_events)
        if behaviour == "stream_cut" and ex.request.transport is not None:
            # close() rather than abort(): an RST can make the peer discard the events already sent.
            ex.request.transport.close()
            return response
        await response.write_eof()
    except ConnectionError:  # the client left mid-stream; nothing left to tell it
        pass
    return response
