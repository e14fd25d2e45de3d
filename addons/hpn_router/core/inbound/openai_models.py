"""OpenAI ``GET /v1/models`` and ``GET /v1/models/{id}`` from the neutral ModelInfo list
(docs/gemini-wire-format.md#models-and-embeddings). Pure.

Usage:
    listing = openai_model_list(listed_models(...))
    entry = find_model(listing, "gemini-2.5-flash")   # None -> 404
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model.catalog import ModelInfo
from ..model.routing import bare_name


def openai_model_list(models: Iterable[ModelInfo], *, created: int = 0) -> dict[str, Any]:
    """``{"object": "list", "data": [...]}``, in the order given."""
    return {"object": "list", "data": [openai_model(model, created=created) for model in models]}


def openai_model(model: ModelInfo, *, created: int = 0) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": created, "owned_by": model.owner}


def find_model(listing: dict[str, Any], model_id: str) -> dict[str, Any] | None:
    """The entry of ``listing`` whose id is ``model_id`` (``models/x`` accepted), else None."""
    wanted = bare_name(model_id)
    return next((entry for entry in listing.get("data", []) if entry.get("id") == wanted), None)
