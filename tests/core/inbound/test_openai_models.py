"""openai_models: the neutral model list in OpenAI's shape, and one model found by id."""

from __future__ import annotations

from hpn_router.core.inbound.openai_models import find_model, openai_model, openai_model_list
from hpn_router.core.model.catalog import ROUTER, ModelInfo

MODELS = [ModelInfo("gemini-2.5-flash", "google"), ModelInfo("gemini-embedding-001", "google"), ModelInfo("gpt-4o", ROUTER)]


def test_listing_in_the_order_given() -> None:
    listing = openai_model_list(MODELS, created=1700000000)
    assert listing == {
        "object": "list",
        "data": [
            {"id": "gemini-2.5-flash", "object": "model", "created": 1700000000, "owned_by": "google"},
            {"id": "gemini-embedding-001", "object": "model", "created": 1700000000, "owned_by": "google"},
            {"id": "gpt-4o", "object": "model", "created": 1700000000, "owned_by": "hpn-router"},
        ],
    }
    assert list(listing["data"][0]) == ["id", "object", "created", "owned_by"]  # OpenAI's field order


def test_empty() -> None:
    assert openai_model_list([]) == {"object": "list", "data": []}


def test_find_model() -> None:
    listing = openai_model_list(MODELS)
    assert find_model(listing, "gemini-embedding-001") == openai_model(MODELS[1])
    assert find_model(listing, "models/gemini-2.5-flash") == listing["data"][0]
    assert find_model(listing, "gpt-4o") == listing["data"][-1]
    assert find_model(listing, "nope") is None
