"""aiohttp app that plays Mistral's La Plateforme for tests, benchmarks and the demo.

Routes: POST /v1/chat/completions (JSON or SSE with `data: [DONE]`), POST /v1/embeddings,
GET /v1/models, GET /v1/models/{id}; keys as `Authorization: Bearer <key>`. Every API answer
carries `mistral-correlation-id` / `x-kong-request-id`, and call answers the per-minute
`x-ratelimit-*` headers of the key's organization. All mutable state (per-key behaviour and
script, rpm/token windows, the request log) lives in one `Emulator` held by the app; shapes
come from the pure modules (`validate`, `answers`, `errors`). Admin endpoints under
`/_emulator/` need no key, as in the Gemini emulator.

Usage:
    app = make_app(load_scenario("configs/emulator/mistral-test.yaml"), clock=lambda: 1_767_225_600.0)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from emulator_kit.server import ScriptedEmulator, add_admin_routes, drop

from . import answers, errors
from .errors import MistralError
from .scenario import KEY_BEHAVIOURS, ModelInfo, Scenario, catalogue, check_behaviour, model_card
from .validate import validate_chat, validate_embeddings

TOKENS_PER_MINUTE = 5_000_000  # what La Plateforme reported for a paid workspace (client-ts#169)
DEFAULT_RPM = 720
MODELS_CREATED = 1_767_225_600
CALLS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}
_SIMPLE_ERRORS: dict[str, Callable[[], MistralError]] = {
    "unauthorized": errors.unauthorized,
    "capacity": errors.capacity_exceeded,
    "monthly_limit": errors.monthly_limit,
    "payment_required": errors.payment_required,
    "internal": errors.internal,
    "unavailable": errors.unavailable,
}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One API request as the stats log sees it (never the key value itself)."""

    request: web.Request
    key_index: int
    call: str | None  # chat, embeddings, or None for the models endpoints
    request_id: str
    stream: bool = False


class Emulator(ScriptedEmulator):
    """Runtime state of one emulated Mistral service."""

    KEY_BEHAVIOURS = KEY_BEHAVIOURS

    def __init__(self, scenario: Scenario, clock: Callable[[], float]) -> None:
        self.models: dict[str, ModelInfo] = catalogue(scenario)
        super().__init__(scenario, clock)

    def reset(self) -> None:
        """Back to the loaded scenario: behaviours, scripts, rate windows and the log."""
        super().reset()
        self.windows: dict[str, tuple[int, int, int]] = {}  # organization -> (minute, requests, tokens)

    def record(self, ex: Exchange, status: int, model: str | None = None) -> None:
        entry = {"key_index": ex.key_index, "path": ex.request.path, "model": model, "stream": ex.stream, "status": status}
        self.log.append({**entry, "t": self.clock()})

    def behaviour_error(self, behaviour: str, ex: Exchange) -> MistralError | None:
        spec = self.keys[ex.key_index].spec
        if behaviour in _SIMPLE_ERRORS:
            return _SIMPLE_ERRORS[behaviour]()
        if behaviour == "unauthorized_gateway":
            return errors.unauthorized_gateway(ex.request_id.replace("-", ""))
        if behaviour == "rate_limit":
            return errors.rate_limited(spec.retry_after)
        if behaviour == "rate_limit_bare":
            return errors.rate_limited_bare(spec.retry_after)
        return None

    def _window(self, organization: str) -> tuple[int, int, int]:
        minute = int(self.clock() // 60)
        window = self.windows.get(organization, (minute, 0, 0))
        return window if window[0] == minute else (minute, 0, 0)

    def take_request(self, index: int) -> MistralError | None:
        """Count one call against the organization's rpm, or answer the 429 that says when the minute ends."""
        spec = self.keys[index].spec
        minute, used, tokens = self._window(spec.organization)
        if spec.rpm is not None and used >= spec.rpm:
            error = errors.rate_limited(max(1, int(60 - self.clock() % 60)))
            return MistralError(error.status, error.body, {**error.headers, **self.rate_headers(index, 0)})
        self.windows[spec.organization] = (minute, used + 1, tokens)
        return None

    def spend_tokens(self, index: int, count: int) -> None:
        organization = self.keys[index].spec.organization
        minute, used, tokens = self._window(organization)
        self.windows[organization] = (minute, used, tokens + count)

    def rate_headers(self, index: int, cost: int) -> dict[str, str]:
        spec = self.keys[index].spec
        _, used, tokens = self._window(spec.organization)
        limit = spec.rpm if spec.rpm is not None else DEFAULT_RPM
        return {
            "x-ratelimit-limit-req-minute": str(limit),
            "x-ratelimit-remaining-req-minute": str(max(0, limit - used)),
            "x-ratelimit-limit-tokens-minute": str(TOKENS_PER_MINUTE),
            "x-ratelimit-remaining-tokens-minute": str(max(0, TOKENS_PER_MINUTE - tokens)),
            "x-ratelimit-tokens-query-cost": str(cost),
        }


EMULATOR = web.AppKey("mistral_emulator", Emulator)


def make_app(scenario: Scenario, *, clock: Callable[[], float] = time.time) -> web.Application:
    app = web.Application()
    emulator = Emulator(scenario, clock)
    app[EMULATOR] = emulator
    add_admin_routes(app, EMULATOR, check_behaviour)
    app.router.add_route("*", "/v1/{rest:.*}", _api)
    app.on_shutdown.append(emulator.shutdown)
    return app


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return web.Response(status=status, body=text.encode(), headers={"Content-Type": "application/json", **(headers or {})})


def _correlation(ex: Exchange) -> dict[str, str]:
    return {"mistral-correlation-id": ex.request_id, "x-kong-request-id": ex.request_id}


def _reply(ex: Exchange, status: int, body: Any, headers: dict[str, str] | None = None, model: str | None = None) -> web.Response:
    ex.request.app[EMULATOR].record(ex, status, model)
    return json_response(status, body, {**_correlation(ex), **(headers or {})})


def _fail(ex: Exchange, error: MistralError, model: str | None = None) -> web.Response:
    return _reply(ex, error.status, error.body, dict(error.headers), model)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _api(request: web.Request) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    emu.seq += 1
    request_id = str(uuid.UUID(bytes=hashlib.sha256(f"req:{emu.seq}".encode()).digest()[:16]))
    key = _bearer(request)
    call = CALLS.get(request.path)
    ex = Exchange(request, emu.key_index.get(key or "", -1), call, request_id)
    if ex.key_index < 0:  # the gateway checks the key before anything else, even the route
        return _fail(ex, errors.unauthorized())
    is_models = request.path == "/v1/models" or request.path.startswith("/v1/models/")
    if call is None and not is_models:
        return _fail(ex, errors.not_found())
    if (call is not None and request.method != "POST") or (is_models and request.method != "GET"):
        return _fail(ex, errors.method_not_allowed())
    behaviour = emu.next_behaviour(ex.key_index, call is not None)
    spec = emu.keys[ex.key_index].spec
    await asyncio.sleep((spec.latency_ms if spec.latency_ms is not None else emu.scenario.latency_ms) / 1000)
    return await _behave(emu, ex, behaviour)


async def _behave(emu: Emulator, ex: Exchange, behaviour: str) -> web.StreamResponse:
    if behaviour == "hang":
        emu.record(ex, 0)
        return await emu.hang(ex)
    if behaviour == "drop" or (behaviour == "stream_cut" and ex.call is None):
        emu.record(ex, 0)
        return drop(ex.request)
    error = emu.behaviour_error(behaviour, ex)
    if error is not None:
        return _fail(ex, error)
    if ex.call is None:
        return _models(emu, ex)
    try:
        body = json.loads(await ex.request.read() or b"null")
    except ValueError as e:
        problem = errors.Problem("json_invalid", (getattr(e, "pos", 0),), "JSON decode error", {})
        return _fail(ex, errors.unprocessable([problem]))
    if ex.call == "embeddings":
        return _embeddings(emu, ex, body)
    return await _chat(emu, ex, body, behaviour)


def _models(emu: Emulator, ex: Exchange) -> web.Response:
    if ex.request.path in ("/v1/models", "/v1/models/"):
        cards = [model_card(info, MODELS_CREATED) for info in emu.models.values()]
        return _reply(ex, 200, {"object": "list", "data": cards})
    model_id = ex.request.path.removeprefix("/v1/models/")
    info = emu.models.get(model_id)
    if info is None:
        return _reply(ex, 404, {"detail": f"Model not found: {model_id}"})  # emulator's wording; Mistral's is unpublished
    return _reply(ex, 200, model_card(info, MODELS_CREATED))


def _embeddings(emu: Emulator, ex: Exchange, body: Any) -> web.Response:
    error = validate_embeddings(body, emu.models) or emu.take_request(ex.key_index)
    model = body.get("model") if isinstance(body, dict) else None
    if error is not None:
        return _fail(ex, error, model)
    response = answers.embeddings_response(body, answers.AnswerContext(body["model"], emu.seq, int(emu.clock())))
    cost = response["usage"]["total_tokens"]
    emu.spend_tokens(ex.key_index, cost)
    return _reply(ex, 200, response, emu.rate_headers(ex.key_index, cost), model)


async def _chat(emu: Emulator, ex: Exchange, body: Any, behaviour: str) -> web.StreamResponse:
    stream = isinstance(body, dict) and body.get("stream") is True
    ex = Exchange(ex.request, ex.key_index, ex.call, ex.request_id, stream)
    model = body.get("model") if isinstance(body, dict) else None
    error = validate_chat(body, emu.models) or emu.take_request(ex.key_index)
    if error is not None:
        return _fail(ex, error, model)
    response = answers.chat_response(body, answers.AnswerContext(body["model"], emu.seq, int(emu.clock())))
    cost = response["usage"]["total_tokens"]
    emu.spend_tokens(ex.key_index, cost)
    headers = emu.rate_headers(ex.key_index, cost)
    if not stream:
        return _reply(ex, 200, response, headers, model)
    return await _stream(emu, ex, answers.stream_chunks(response), behaviour, headers, str(model))


async def _stream(
    emu: Emulator, ex: Exchange, events: list[dict[str, Any]], behaviour: str, headers: dict[str, str], model: str
) -> web.StreamResponse:
    """SSE: `data: <json>` frames separated by a blank line (LF), then `data: [DONE]`."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream", **_correlation(ex), **headers})
    emu.record(ex, 200, model)
    if behaviour == "stream_cut":
        events = events[:2]
    try:
        await response.prepare(ex.request)
        for n, event in enumerate(events):
            if n:
                await asyncio.sleep(emu.scenario.stream_delay_ms / 1000)
            await response.write(f"data: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n".encode())
        if behaviour == "stream_cut" and ex.request.transport is not None:
            ex.request.transport.close()  # cut mid-body: no [DONE], no terminating chunk
            return response
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionError:  # the client left mid-stream; nothing left to tell it
        pass
    return response
