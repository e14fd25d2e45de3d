"""Gemini's ``models.list`` -> the neutral ModelInfo list, and Gemini's own list shape for
Google's clients (docs/gemini-wire-format.md#models-and-embeddings). Pure.

The caller fetches every page of ``models`` and passes the ``models`` arrays joined. Ids lose
Gemini's ``models/`` prefix, since clients of other APIs send bare ids.

``GET /v1/models`` is both OpenAI's path and Gemini's (google-genai uses it when told
``api_version="v1"``); ``wants_gemini_shape`` tells Google's clients by their headers, and
they get Gemini's pages (``{"models": [...], "nextPageToken"}``) and model resources, passed
through as Gemini listed them.

Usage:
    models = served_models(pages_models)                                   # [ModelInfo, ...]
    if wants_gemini_shape(goog_api_key=..., goog_api_client=..., user_agent=..., query_key=...):
        page = gemini_models_page(pages_models, page_size="2", page_token=None)   # ValueError -> 400
        model = find_gemini_model(pages_models, "gemini-2.5-flash")               # None -> 404
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ...model.catalog import ModelInfo
from ...model.routing import GOOGLE_PREFIX, bare_name

# Models that serve neither chat nor embeddings (e.g. AQA, Imagen's "predict")
# would only fail when a client picks them.
SERVED_METHODS = frozenset({"generateContent", "embedContent"})
GOOGLE = "google"


def served_models(gemini_models: list[Any]) -> list[ModelInfo]:
    """The models of Gemini's list that the router can serve, in Gemini's order."""
    served: list[ModelInfo] = []
    for model in gemini_models:
        name = model.get("name") if isinstance(model, dict) else None
        if not isinstance(name, str):
            continue
        methods = model.get("supportedGenerationMethods")
        # A missing (or garbled) field says nothing about the model: list it rather than hide it.
        if not isinstance(methods, list) or SERVED_METHODS.intersection(methods):
            served.append(ModelInfo(bare_name(name), GOOGLE))
    return served


# --- Gemini's own shape, for Google's clients ---------------------------------------------

# Gemini's models.list page sizes: 50 when none is asked, at most 1000.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def wants_gemini_shape(*, goog_api_key: str | None, goog_api_client: str | None, user_agent: str | None, query_key: str | None) -> bool:
    """Whether a request for ``/v1/models`` comes from a Google client: its key header, its
    `x-goog-api-client` tag, google-genai's user agent, or a REST call with ``?key=``. The
    OpenAI SDKs send none of these (they authenticate with ``Authorization: Bearer``)."""
    agent = (user_agent or "").lower()
    return goog_api_key is not None or goog_api_client is not None or query_key is not None or "google-genai" in agent


def gemini_models_page(gemini_models: list[dict[str, Any]], *, page_size: str | None, page_token: str | None) -> dict[str, Any]:
    """One page of ``models.list`` as Gemini answers it: ``{"models": [...]}`` plus
    ``nextPageToken`` unless it is the last page. Raises ValueError for a page size or token
    that is not one (Gemini answers those with 400 INVALID_ARGUMENT)."""
    try:
        size = int(page_size) if page_size else DEFAULT_PAGE_SIZE
    except ValueError:
        raise ValueError(f"Invalid page size: {(page_size or '')[:20]!r}.") from None
    size = DEFAULT_PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)
    start = _page_start(page_token) if page_token else 0
    models = [m for m in gemini_models if isinstance(m, dict) and isinstance(m.get("name"), str)]
    page: dict[str, Any] = {"models": models[start : start + size]}
    if start + size < len(models):
        page["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return page


def _page_start(token: str) -> int:
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("Invalid page token.") from None
    if start < 0:
        raise ValueError("Invalid page token.")
    return start


def find_gemini_model(gemini_models: list[dict[str, Any]], model_id: str) -> dict[str, Any] | None:
    """The model resource named ``model_id`` (with or without ``models/``), else None."""
    wanted = GOOGLE_PREFIX + bare_name(model_id)
    return next((m for m in gemini_models if isinstance(m, dict) and m.get("name") == wanted), None)
