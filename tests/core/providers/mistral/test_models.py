"""Mistral's model cards -> the models a client can use through the router."""

from __future__ import annotations

from hpn_router.core.model.catalog import ModelInfo
from hpn_router.core.providers.mistral.models import served_models


def card(model_id: str, **capabilities: bool) -> dict:
    return {"id": model_id, "object": "model", "owned_by": "mistralai", "capabilities": capabilities}


def test_chat_and_embedding_models_in_mistrals_order() -> None:
    listing = {
        "object": "list",
        "data": [
            card("mistral-large-latest", completion_chat=True),
            card("mistral-ocr-latest", completion_chat=False, ocr=True),
            card("mistral-embed", completion_chat=False),
            card("mistral-moderation-latest", completion_chat=False, moderation=True),
            {"id": "ft:open-mistral-7b:abc", "object": "model"},  # no capabilities: listed rather than hidden
        ],
    }
    assert served_models(listing) == [
        ModelInfo("mistral-large-latest", "mistralai"),
        ModelInfo("mistral-embed", "mistralai"),
        ModelInfo("ft:open-mistral-7b:abc", "mistralai"),
    ]


def test_a_garbled_list_lists_nothing_and_never_raises() -> None:
    for listing in (None, [], {"data": "x"}, {"data": [1, {"id": 3}, {"id": ""}]}):
        assert served_models(listing) == []
