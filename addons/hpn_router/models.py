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


def is_gemini3(model: str) -> bool:
    """Gemini 3.x takes thinkingLevel, rejects penalties and requires thought signatures.
    The `-latest` aliases point at 3.x models today (wire-formats §1.10)."""
    return model.startswith("gemini-3") or model in {"gemini-flash-latest", "gemini-flash-lite-latest", "gemini-pro-latest"}
