"""aiohttp app that plays the Gemini API for tests, benchmarks and the demo: routing, keys, behaviours, SSE.

All mutable state (per-key behaviour and script, quota counters, the request log) lives in
one `Emulator` held by the app; request/response shapes come from the pure modules
(`validate`, `answers`, `errors`). Admin endpoints under `/_emulator/` need no key.

Usage:
    app = make_app(load_scenario("configs/emulator/test.yaml"), clock=lambda: 1_767_225_600.0)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from emulator_kit.server import ScriptedEmulator, add_admin_routes, drop, write_frame

from . import answers, errors
from .errors import GoogleError, Violation
from .protos import parse
from .scenario import (
    KEY_BEHAVIOURS,
    KeySpec,
    ModelInfo,
    Scenario,
    catalogue,
    check_behaviour,
    model_resource,
)
from .validate import ValidationContext, validate_count_tokens, validate_embed, validate_generate

PACIFIC = ZoneInfo("America/Los_Angeles")  # free-tier daily quotas reset at Pacific midnight
CALL_METHODS = {
    "generateContent": "generateContent",
    "streamGenerateContent": "generateContent",
    "countTokens": "countTokens",
    "embedContent": "embedContent",
    "batchEmbedContents": "embedContent",
}
_ROUTE = re.compile(r"models/([^/:]+)(?::(\w+))?")
_SIMPLE_ERRORS: dict[str, Callable[[], GoogleError]] = {
    "invalid": errors.api_key_invalid,
    "expired": errors.api_key_expired,
    "failed_precondition": errors.failed_precondition,
    "unavailable": errors.unavailable,
    "internal": errors.internal,
    "deadline": errors.deadline,
    "rate_limit_bare": errors.resource_exhausted_bare,
}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One API request as the stats log sees it (never the key value itself)."""

    request: web.Request
    key_index: int
    version: str
    model: str | None
    method: str | None

    @property
    def stream(self) -> bool:
        return self.method == "streamGenerateContent"


class Emulator(ScriptedEmulator):
    """Runtime state of one emulated Gemini service."""

    KEY_BEHAVIOURS = KEY_BEHAVIOURS

    def __init__(self, scenario: Scenario, clock: Callable[[], float]) -> None:
        self.models: dict[str, ModelInfo] = catalogue(scenario)
        super().__init__(scenario, clock)

    def reset(self) -> None:
        """Back to the loaded scenario: behaviours, scripts, quota counters and the log."""
        super().reset()
        self.minute_counts: dict[tuple[str, str], tuple[int, int]] = {}
        self.day_counts: dict[tuple[str, str], tuple[str, int]] = {}

    def record(self, ex: Exchange, status: int) -> None:
        self.log.append(
            {
                "key_index": ex.key_index,
                "path": ex.request.path,
                "model": ex.model,
                "stream": ex.stream,
                "status": status,
                "t": self.clock(),
            }
        )

    def behaviour_error(self, behaviour: str, index: int, model: str) -> GoogleError | None:
        spec = self.keys[index].spec
        if behaviour in _SIMPLE_ERRORS:
            return _SIMPLE_ERRORS[behaviour]()
        if behaviour in ("forbidden", "suspended"):
            builder = errors.forbidden if behaviour == "forbidden" else errors.suspended
            return builder(spec.key, _project_number(spec.project))
        if behaviour in ("rate_limit", "rate_limit_day", "rate_limit_zero"):
            violations = {
                "rate_limit": [Violation(errors.PER_MINUTE, spec.rpm or 10)],
                "rate_limit_day": [Violation(errors.PER_DAY, spec.rpd or 20)],
                "rate_limit_zero": [Violation(errors.PER_DAY, 0), Violation(errors.PER_MINUTE, 0)],
            }
            return self._quota_error(spec, model, violations[behaviour], None)
        return None

    def take_quota(self, index: int, model: str) -> GoogleError | None:
        """Count one generate request against the project's rpm/rpd, or say which quota is exhausted."""
        spec, now = self.keys[index].spec, self.clock()
        bucket, minute = (spec.project, model), int(now // 60)
        day = datetime.fromtimestamp(now, PACIFIC).date().isoformat()
        minute_count = self.minute_counts.get(bucket, (minute, 0))
        day_count = self.day_counts.get(bucket, (day, 0))
        used_minute = minute_count[1] if minute_count[0] == minute else 0
        used_day = day_count[1] if day_count[0] == day else 0
        if spec.rpd is not None and used_day >= spec.rpd:
            return self._quota_error(spec, model, [Violation(errors.PER_DAY, spec.rpd)], None)
        if spec.rpm is not None and used_minute >= spec.rpm:
            wait = 60 - now % 60
            delay = None if spec.retry_delay is None else f"{max(1, int(wait))}s"
            return self._quota_error(spec, model, [Violation(errors.PER_MINUTE, spec.rpm)], (wait, delay))
        self.minute_counts[bucket] = (minute, used_minute + 1)
        self.day_counts[bucket] = (day, used_day + 1)
        return None

    def _quota_error(self, spec: KeySpec, model: str, violations: list[Violation], timing: tuple[float, str | None] | None) -> GoogleError:
        if timing is None:  # the configured RetryInfo; the message then quotes the same delay
            delay = spec.retry_delay
            timing = (float(delay[:-1]) if delay else 60 - self.clock() % 60, delay)
        return errors.quota_exceeded(model, violations, retry_in=timing[0], retry_delay=timing[1], rotation=self.seq)


EMULATOR = web.AppKey("emulator", Emulator)


def make_app(scenario: Scenario, *, clock: Callable[[], float] = time.time) -> web.Application:
    app = web.Application()
    emulator = Emulator(scenario, clock)
    app[EMULATOR] = emulator
    add_admin_routes(app, EMULATOR, check_behaviour)
    app.router.add_route("*", "/{version:v1beta|v1}/{rest:.+}", _api)
    app.on_shutdown.append(emulator.shutdown)
    return app


def _project_number(project: str) -> str:
    return str(int(hashlib.sha256(project.encode()).hexdigest(), 16))[:12]


def json_response(status: int, body: Any) -> web.Response:
    # Google pretty-prints non-streamed JSON; clients must not assume one line. No Retry-After, ever.
    text = json.dumps(body, indent=2, ensure_ascii=False)
    return web.Response(status=status, body=text.encode(), headers={"Content-Type": "application/json; charset=UTF-8"})


def _reply(ex: Exchange, status: int, body: Any) -> web.Response:
    ex.request.app[EMULATOR].record(ex, status)
    return json_response(status, body)


def _fail(ex: Exchange, error: GoogleError) -> web.Response:
    return _reply(ex, error.status, error.body)


def _route(rest: str, http_method: str) -> tuple[str | None, str | None]:
    """(model, method) for `models`, `models/{m}` and `models/{m}:{method}`; method None = no such route."""
    if rest == "models":
        return None, "list" if http_method == "GET" else None
    match = _ROUTE.fullmatch(rest)
    if match is None:
        return None, None
    model, method = match.groups()
    if method is None:
        return model, "get" if http_method == "GET" else None
    return model, method if method in CALL_METHODS and http_method == "POST" else None


async def _api(request: web.Request) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    emu.seq += 1
    model, method = _route(request.match_info["rest"], request.method)
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    ex = Exchange(request, emu.key_index.get(key or "", -1), request.match_info["version"], model, method)
    if not key:
        return _fail(ex, errors.missing_key())
    if ex.key_index < 0:
        return _fail(ex, errors.api_key_invalid())
    if method is None:
        return _fail(ex, errors.method_not_found())
    behaviour = emu.next_behaviour(ex.key_index, method in CALL_METHODS)
    spec = emu.keys[ex.key_index].spec
    await asyncio.sleep((spec.latency_ms if spec.latency_ms is not None else emu.scenario.latency_ms) / 1000)
    return await _behave(emu, ex, behaviour)


async def _behave(emu: Emulator, ex: Exchange, behaviour: str) -> web.StreamResponse:
    if behaviour == "hang":
        emu.record(ex, 0)
        return await emu.hang(ex)
    if behaviour == "drop" or (behaviour == "stream_cut" and not ex.stream):
        emu.record(ex, 0)
        return drop(ex.request)
    if behaviour == "stream_error" and not ex.stream:
        behaviour = "unavailable"
    error = emu.behaviour_error(behaviour, ex.key_index, ex.model or "")
    if error is not None:
        return _fail(ex, error)
    if ex.method == "list":
        return _list_models(emu, ex)
    info = emu.models.get(ex.model or "")
    needed = "get" if ex.method == "get" else CALL_METHODS[str(ex.method)]
    if info is None or (needed != "get" and needed not in info.methods):
        return _fail(ex, errors.model_not_found(str(ex.model), ex.version, needed))
    if ex.method == "get":
        return _reply(ex, 200, model_resource(info))
    try:
        body = json.loads(await ex.request.read() or b"{}")
    except ValueError:
        return _fail(ex, errors.bad_request([(None, "Invalid JSON payload received. Unexpected token.")]))
    if ex.method in ("embedContent", "batchEmbedContents"):
        return _embed(ex, body, info)
    return await _generate(emu, ex, body, info, behaviour)


def _list_models(emu: Emulator, ex: Exchange) -> web.Response:
    query = ex.request.query
    try:
        size = int(query.get("pageSize") or 50)
        token = query.get("pageToken")
        start = int(base64.urlsafe_b64decode(token)) if token else 0
    except ValueError:  # binascii.Error is a ValueError
        return _fail(ex, errors.invalid_argument("Invalid page token or page size."))
    size, start = 50 if size <= 0 else min(size, 1000), max(start, 0)
    infos = list(emu.models.values())
    body: dict[str, Any] = {"models": [model_resource(i) for i in infos[start : start + size]]}
    if start + size < len(infos):  # like Google: no nextPageToken at all on the last page
        body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()  # opaque to clients
    return _reply(ex, 200, body)


def _embed(ex: Exchange, body: Any, info: ModelInfo) -> web.Response:
    batch = ex.method == "batchEmbedContents"
    error = validate_embed(body, info.id, batch=batch)
    if error is not None:
        return _fail(ex, error)
    request, _ = parse(body, "BatchEmbedContentsRequest" if batch else "EmbedContentRequest")

    def values(item: dict[str, Any]) -> dict[str, Any]:
        text = " ".join(p["text"] for p in item["content"]["parts"])
        return {"values": answers.embedding(text, item.get("outputDimensionality") or answers.EMBEDDING_DIMS)}

    if batch:
        return _reply(ex, 200, {"embeddings": [values(item) for item in request.get("requests") or []]})
    return _reply(ex, 200, {"embedding": values(request)})


async def _generate(emu: Emulator, ex: Exchange, body: Any, info: ModelInfo, behaviour: str) -> web.StreamResponse:
    gemini3 = emu.scenario.is_gemini3(info.id)
    ctx = ValidationContext(info.id, info, gemini3, emu.scenario.signature_check, emu.scenario.enables_logprobs(info.id))
    if ex.method == "countTokens":
        error = validate_count_tokens(body, ctx)
        request, _ = parse(body, "CountTokensRequest")
        return (
            _fail(ex, error) if error else _reply(ex, 200, answers.count_tokens_response(request.get("generateContentRequest") or request))
        )
    error = validate_generate(body, ctx) or emu.take_quota(ex.key_index, info.id)
    if error is not None:
        return _fail(ex, error)
    request, _ = parse(body, "GenerateContentRequest")
    response = answers.generate_response(request, answers.AnswerContext(info.id, info, gemini3, emu.seq))
    if not ex.stream:
        return _reply(ex, 200, response)
    return await _stream(emu, ex, answers.stream_chunks(response), behaviour)


async def _stream(emu: Emulator, ex: Exchange, events: list[dict[str, Any]], behaviour: str) -> web.StreamResponse:
    """SSE (`alt=sse`, CRLF framing, no [DONE]) or Google's streamed JSON array without it."""
    sse = ex.request.query.get("alt") == "sse"
    content_type = "text/event-stream" if sse else "application/json; charset=UTF-8"
    response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
    emu.record(ex, 200)
    if behaviour in ("stream_error", "stream_cut"):
        events = events[:2]
    if behaviour == "stream_error":
        events = [*events, errors.unavailable().body]
    try:
        await response.prepare(ex.request)
        for n, event in enumerate(events):
            if n:
                await asyncio.sleep(emu.scenario.stream_delay_ms / 1000)
            data = json.dumps(event, ensure_ascii=False)
            frame = f"data: {data}\r\n\r\n" if sse else ("[" if n == 0 else ",\r\n") + data
            await write_frame(response, frame.encode(), emu.scenario.split_events)
        if behaviour == "stream_cut" and ex.request.transport is not None:
            # Cut mid-body: no terminating chunk, connection gone. close() rather than abort(): an RST
            # can make the peer's kernel discard the events already sent, and they must be seen first.
            ex.request.transport.close()
            return response
        if not sse:
            await response.write(b"]")
        await response.write_eof()
    except ConnectionError:  # the client left mid-stream; nothing left to tell it
        pass
    return response
