"""Which endpoint a client request is for, and which methods each path allows. Pure: method
and path in, Route out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

from hpn_router.core.errors import ClientApi


class Endpoint(Enum):
    HEALTH = "health"
    METRICS = "metrics"  # Prometheus' scrape, answered by the router itself
    DASHBOARD = "dashboard"  # the live dashboard: its page, data, login and logout
    CHAT = "chat"
    RESPONSES = "responses"  # OpenAI's Responses API
    RESPONSE = "response"  # one stored response: GET or DELETE /v1/responses/{id}
    MESSAGES = "messages"  # Anthropic's Messages API
    COUNT_TOKENS = "count_tokens"  # Anthropic's POST /v1/messages/count_tokens
    EMBEDDINGS = "embeddings"
    MODELS = "models"
    MODEL = "model"
    NATIVE = "native"  # Gemini's own API, passed through with a pool key
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: Endpoint
    model: str | None = None  # for MODEL and NATIVE
    action: str | None = None  # NATIVE: generateContent, streamGenerateContent, ...
    version: str = "v1beta"
    allowed: tuple[str, ...] = ()  # METHOD_NOT_ALLOWED: the methods the path does allow
    response_id: str | None = None  # for RESPONSE


# google-genai sends /v1/models/{m}:generateContent when given a custom base URL, so native
# paths are served under both versions; the `:method` suffix tells them apart from OpenAI's
# /v1/models/{id}.
_NATIVE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):([A-Za-z]+)$")
_NATIVE_MODELS = re.compile(r"^/(v1beta)/models(?:/([^/:]+))?$")
_OPENAI_MODEL = re.compile(r"^/v1/models/(.+)$")
_RESPONSE = re.compile(r"^/v1/responses/([^/]+)$")
NATIVE_ACTIONS = {"generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"}

GET, POST = ("GET",), ("POST",)
GET_DELETE = ("GET", "DELETE")
_SIMPLE = {
    "/health": (Endpoint.HEALTH, ("GET", "HEAD")),
    "/metrics": (Endpoint.METRICS, GET),
    "/dashboard": (Endpoint.DASHBOARD, GET),
    "/dashboard/data": (Endpoint.DASHBOARD, GET),
    "/dashboard/login": (Endpoint.DASHBOARD, POST),
    "/dashboard/logout": (Endpoint.DASHBOARD, POST),
    "/v1/chat/completions": (Endpoint.CHAT, POST),
    "/v1/responses": (Endpoint.RESPONSES, POST),
    "/v1/messages": (Endpoint.MESSAGES, POST),
    "/v1/messages/count_tokens": (Endpoint.COUNT_TOKENS, POST),
    "/v1/embeddings": (Endpoint.EMBEDDINGS, POST),
    "/v1/models": (Endpoint.MODELS, GET),
}


def match(method: str, raw_path: str) -> Route:
    path = _clean(raw_path)
    allowed = allowed_methods(path)
    if not allowed:
        return Route(Endpoint.NOT_FOUND)
    if method not in allowed:
        return Route(Endpoint.METHOD_NOT_ALLOWED, allowed=allowed)
    if path in _SIMPLE:
        return Route(_SIMPLE[path][0])
    if native := _NATIVE.match(path):
        version, model, action = native.groups()
        return Route(Endpoint.NATIVE, unquote(model), action, version)
    if native_models := _NATIVE_MODELS.match(path):
        version, model = native_models.groups()
        return Route(Endpoint.NATIVE, unquote(model) if model else None, None, version)
    if response := _RESPONSE.match(path):
        return Route(Endpoint.RESPONSE, response_id=unquote(response.group(1)))
    model = _OPENAI_MODEL.match(path)
    assert model is not None  # allowed_methods knows no other path
    return Route(Endpoint.MODEL, unquote(model.group(1)))


def allowed_methods(raw_path: str) -> tuple[str, ...]:
    """The methods the router serves on a path (for `Allow` and CORS preflights); () for a
    path it does not serve."""
    path = _clean(raw_path)
    if path in _SIMPLE:
        return _SIMPLE[path][1]
    if native := _NATIVE.match(path):
        return POST if native.group(3) in NATIVE_ACTIONS else ()
    if _NATIVE_MODELS.match(path) or _OPENAI_MODEL.match(path):
        return GET
    if _RESPONSE.match(path):
        return GET_DELETE
    return ()


def client_api(raw_path: str) -> ClientApi:
    """Whose client calls this path, by the path alone (for an answer given before the flow has
    an endpoint, or on a path the router does not serve): Google's SDKs call /v1beta/... and
    /v1/models/{m}:{action}, Anthropic's /v1/messages...; every other path is OpenAI's (or the
    router's own)."""
    path = _clean(raw_path)
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return ClientApi.ANTHROPIC
    if path == "/v1beta" or path.startswith("/v1beta/") or _NATIVE.match(path):
        return ClientApi.GEMINI
    return ClientApi.OPENAI


def _clean(raw_path: str) -> str:
    path = raw_path.split("?", 1)[0]
    return path.rstrip("/") if len(path) > 1 else path
