"""Which endpoint a client request is for. Pure: method and path in, Route out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote


class Endpoint(Enum):
    HEALTH = "health"
    CHAT = "chat"
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


# google-genai sends /v1/models/{m}:generateContent when given a custom base URL, so native
# paths are served under both versions; the `:method` suffix tells them apart from OpenAI's
# /v1/models/{id}.
_NATIVE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):([A-Za-z]+)$")
_NATIVE_MODELS = re.compile(r"^/(v1beta)/models(?:/([^/:]+))?$")
_OPENAI_MODEL = re.compile(r"^/v1/models/(.+)$")
NATIVE_ACTIONS = {"generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"}

_SIMPLE = {
    "/health": (Endpoint.HEALTH, {"GET", "HEAD"}),
    "/v1/chat/completions": (Endpoint.CHAT, {"POST"}),
    "/v1/embeddings": (Endpoint.EMBEDDINGS, {"POST"}),
    "/v1/models": (Endpoint.MODELS, {"GET"}),
}


def match(method: str, raw_path: str) -> Route:
    path = raw_path.split("?", 1)[0]
    if len(path) > 1:
        path = path.rstrip("/")
    if path in _SIMPLE:
        endpoint, methods = _SIMPLE[path]
        return Route(endpoint) if method in methods else Route(Endpoint.METHOD_NOT_ALLOWED)
    if native := _NATIVE.match(path):
        version, model, action = native.groups()
        if action not in NATIVE_ACTIONS:
            return Route(Endpoint.NOT_FOUND)
        if method != "POST":
            return Route(Endpoint.METHOD_NOT_ALLOWED)
        return Route(Endpoint.NATIVE, unquote(model), action, version)
    if native_models := _NATIVE_MODELS.match(path):
        if method != "GET":
            return Route(Endpoint.METHOD_NOT_ALLOWED)
        version, model = native_models.groups()
        return Route(Endpoint.NATIVE, unquote(model) if model else None, None, version)
    if model := _OPENAI_MODEL.match(path):
        if method != "GET":
            return Route(Endpoint.METHOD_NOT_ALLOWED)
        return Route(Endpoint.MODEL, unquote(model.group(1)))
    return Route(Endpoint.NOT_FOUND)
