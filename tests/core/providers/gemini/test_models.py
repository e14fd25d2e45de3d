"""Gemini's models: its live list read into ModelInfo (only what the router can serve), and
Gemini's own list shape for Google's clients."""

from __future__ import annotations

import pytest
from hpn_router.core.model.catalog import ModelInfo
from hpn_router.core.providers.gemini.models import (
    find_gemini_model,
    gemini_models_page,
    served_models,
    wants_gemini_shape,
)

GEMINI = [
    {"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent", "countTokens"]},
    {"name": "models/gemini-embedding-001", "supportedGenerationMethods": ["embedContent", "batchEmbedContents"]},
    {"name": "models/aqa", "supportedGenerationMethods": ["generateAnswer"]},
    {"name": "models/imagen-4.0-generate-001", "supportedGenerationMethods": ["predict"]},
    {"name": "models/gemini-3.5-flash"},  # field missing: listed
    {"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent"]},  # duplicate
    {"displayName": "no name"},
    "garbage",
]


def test_served_models_in_geminis_order_without_the_prefix() -> None:
    # Chat and embedding models are served, AQA and Imagen are not; duplicates are left to the catalog.
    assert served_models(GEMINI) == [
        ModelInfo("gemini-2.5-flash", "google"),
        ModelInfo("gemini-embedding-001", "google"),
        ModelInfo("gemini-3.5-flash", "google"),
        ModelInfo("gemini-2.5-flash", "google"),
    ]


def test_no_models() -> None:
    assert served_models([]) == []


# --- Gemini's own shape, for Google's clients -------------------------------------------------

NO_HEADERS = {"goog_api_key": None, "goog_api_client": None, "user_agent": None, "query_key": None}


@pytest.mark.parametrize(
    ("headers", "google"),
    [
        ({}, False),
        ({"user_agent": "OpenAI/Python 2.54.0"}, False),
        ({"goog_api_key": "client-token"}, True),
        ({"goog_api_client": "google-genai-sdk/2.34.0 gl-python/3.11.7"}, True),
        ({"user_agent": "google-genai-sdk/2.34.0 gl-python/3.11.7"}, True),
        ({"query_key": "client-token"}, True),  # Gemini's REST style: GET /v1/models?key=...
    ],
)
def test_google_clients_are_told_by_their_headers(headers: dict, google: bool) -> None:
    assert wants_gemini_shape(**{**NO_HEADERS, **headers}) is google


MODELS = [{"name": f"models/m{i}", "inputTokenLimit": i} for i in range(5)]


def test_pages_follow_next_page_token_to_the_end() -> None:
    seen, token, pages = [], None, 0
    while True:
        page = gemini_models_page(MODELS, page_size="2", page_token=token)
        seen += page["models"]
        pages += 1
        if "nextPageToken" not in page:  # like Gemini: no token at all on the last page
            break
        token = page["nextPageToken"]
    assert (seen, pages) == (MODELS, 3)


def test_page_size_defaults_and_bounds() -> None:
    many = [{"name": f"models/m{i}"} for i in range(1200)]
    assert len(gemini_models_page(many, page_size=None, page_token=None)["models"]) == 50
    assert len(gemini_models_page(many, page_size="0", page_token=None)["models"]) == 50
    assert len(gemini_models_page(many, page_size="5000", page_token=None)["models"]) == 1000
    assert gemini_models_page(GEMINI, page_size=None, page_token=None)["models"] == GEMINI[:-2]  # nameless entries dropped


@pytest.mark.parametrize(("size", "token"), [("two", None), (None, "not base64!"), (None, "LTE=")])  # LTE= is "-1"
def test_bad_page_arguments_are_invalid(size: str | None, token: str | None) -> None:
    with pytest.raises(ValueError, match="Invalid page"):
        gemini_models_page(MODELS, page_size=size, page_token=token)


def test_find_gemini_model() -> None:
    assert find_gemini_model(MODELS, "m3") == find_gemini_model(MODELS, "models/m3") == MODELS[3]
    assert find_gemini_model(MODELS, "m9") is None
