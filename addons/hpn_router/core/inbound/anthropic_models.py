"""Anthropic's ``GET /v1/models`` and ``GET /v1/models/{id}`` from the neutral ModelInfo list, for
Anthropic's SDKs and Claude Code (they send `anthropic-version`). Pure.

Shape (Anthropic's `ModelInfo`): ``{"type": "model", "id", "display_name", "created_at"}`` in a
page ``{"data", "has_more", "first_id", "last_id"}``. Claude Code's model picker lists only ids
starting with `claude`: name Gemini models that way under `models:` to see them there.

Usage:
    page = anthropic_model_list(listed_models(...))
    entry = find_anthropic_model(models, "claude-sonnet-4-5")   # None -> 404
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model.catalog import ModelInfo
from ..model.routing import bare_name

CREATED_AT = "1970-01-01T00:00:00Z"  # the providers' lists carry no dates; RFC 3339, as the SDK parses it


def anthropic_model(model: ModelInfo) -> dict[str, Any]:
    return {"type": "model", "id": model.id, "display_name": model.id, "created_at": CREATED_AT}


def anthropic_model_list(models: Iterable[ModelInfo]) -> dict[str, Any]:
    """One page with every model (Claude Code asks for `limit=1000`), in the order given."""
    data = [anthropic_model(model) for model in models]
    return {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}


def find_anthropic_model(models: Iterable[ModelInfo], model_id: str) -> dict[str, Any] | None:
    wanted = bare_name(model_id)
    return next((anthropic_model(model) for model in models if model.id == wanted), None)
