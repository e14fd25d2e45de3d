"""OpenAI model names to Gemini model ids: kept for the callers that want only the model id;
`model/routing.py` holds the rule. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from .model.routing import route_model


def gemini_model_for(requested: str, aliases: Mapping[str, str], default_model: str) -> str:
    """Configured aliases first; `gemini-*` names pass through; any other name (gpt-4,
    gpt-4o, ...) goes to the configured default."""
    return route_model(requested, aliases, default_model).model
