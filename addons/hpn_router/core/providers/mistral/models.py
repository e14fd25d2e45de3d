"""Mistral's ``GET /v1/models`` -> the neutral ModelInfo list. Pure.

Mistral lists model cards (`{"object": "list", "data": [{id, owned_by, capabilities, ...}]}`, as its
SDK types them): chat models (`capabilities.completion_chat`), embedding models, and others
the router cannot serve (OCR, moderation, transcription, which claim neither). Only what a
client can use through the router is listed: chat models, and embedding models by their name
(`mistral-embed`, `codestral-embed`), in Mistral's order.

Usage:
    models = served_models(json.loads(body))    # [ModelInfo("mistral-small-latest", "mistralai"), ...]
"""

from __future__ import annotations

from typing import Any

from ...model.catalog import ModelInfo

MISTRAL = "mistralai"  # what Mistral's own cards say in `owned_by`


def served_models(listing: Any) -> list[ModelInfo]:
    data = listing.get("data") if isinstance(listing, dict) else None
    served: list[ModelInfo] = []
    for card in data if isinstance(data, list) else []:
        model_id = card.get("id") if isinstance(card, dict) else None
        if isinstance(model_id, str) and model_id and _served(card, model_id):
            served.append(ModelInfo(model_id, MISTRAL))
    return served


def _served(card: dict[str, Any], model_id: str) -> bool:
    capabilities = card.get("capabilities")
    if not isinstance(capabilities, dict):
        return True  # a card without capabilities says nothing: list it rather than hide it
    return capabilities.get("completion_chat") is True or "embed" in model_id
