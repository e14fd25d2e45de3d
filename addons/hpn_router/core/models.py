"""OpenAI model names to Gemini model ids. Pure."""

from __future__ import annotations

from collections.abc import Mapping


def gemini_model_for(requested: str, aliases: Mapping[str, str], default_model: str) -> str:
    """Configured aliases first; `gemini-*` names pass through; any other name (gpt-4,
    gpt-4o, ...) goes to the configured default."""
    name = requested.removeprefix("models/")
    if requested in aliases:
        return aliases[requested]
    if name in aliases:
        return aliases[name]
    if name.startswith("gemini-") or name.startswith("gemma-"):
        return name
    return default_model
