"""model_list: Gemini models.list → OpenAI /v1/models, with aliases; find_model."""

from __future__ import annotations

from hpn_router.core.model_list import find_model, gemini_models_to_openai

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
