"""model_list: Gemini models.list → OpenAI /v1/models, with aliases; find_model."""

from __future__ import annotations

import pytest
from hpn_router.core.model_list import (
    find_gemini_model,
    find_model,
    gemini_models_page,
    gemini_models_to_openai,
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
]
ALIASES = {"gpt-4o": "gemini-3.5-flash", "gpt-3.5-turbo": "gemini-2.5-flash", "gemini-2.5-flash": "gemini-3.5-flash"}


def ids(listing: dict) -> list[str]:
    return [entry["id"] for entry in listing["data"]]


def test_listing() -> None:
    listing = gemini_models_to_openai(GEMINI, ALIASES, created=1700000000)
    assert listing["object"] == "list"
    # Gemini order, filtered and de-duplicated, then aliases sorted; an alias equal
    # to an upstream id is not listed twice.
    assert ids(listing) == ["gemini-2.5-flash", "gemini-embedding-001", "gemini-3.5-flash", "gpt-3.5-turbo", "gpt-4o"]
    first = {"id": "gemini-2.5-flash", "object": "model", "created": 1700000000, "owned_by": "google"}
    assert listing["data"][0] == first
    assert listing["data"][-1] == {"id": "gpt-4o", "object": "model", "created": 1700000000, "owned_by": "hpn-router"}


def test_aliases_listed_even_without_target() -> None:
    listing = gemini_models_to_openai([], {"my-chat": "gemini-9-ultra"})
    assert listing == {
        "object": "list",
        "data": [{"id": "my-chat", "object": "model", "created": 0, "owned_by": "hpn-router"}],
    }


def test_empty() -> None:
    assert gemini_models_to_openai([], {}) == {"object": "list", "data": []}


def test_find_model() -> None:
    listing = gemini_models_to_openai(GEMINI, ALIASES)
    assert find_model(listing, "gemini-embedding-001") == listing["data"][1]
    assert find_model(listing, "models/gemini-2.5-flash") == listing["data"][0]
    assert find_model(listing, "gpt-4o") == listing["data"][-1]
    assert find_model(listing, "aqa") is None
    assert find_model(listing, "nope") is None


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
    assert gemini_models_page(GEMINI, page_size=None, page_token=None)["models"] == GEMINI[:-1]  # nameless entries dropped


@pytest.mark.parametrize(("size", "token"), [("two", None), (None, "not base64!"), (None, "LTE=")])  # LTE= is "-1"
def test_bad_page_arguments_are_invalid(size: str | None, token: str | None) -> None:
    with pytest.raises(ValueError, match="Invalid page"):
        gemini_models_page(MODELS, page_size=size, page_token=token)


def test_find_gemini_model() -> None:
    assert find_gemini_model(MODELS, "m3") == find_gemini_model(MODELS, "models/m3") == MODELS[3]
    assert find_gemini_model(MODELS, "m9") is None
