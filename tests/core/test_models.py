"""OpenAI model names to Gemini model ids."""

from __future__ import annotations

from hpn_router.core.models import gemini_model_for

ALIASES = {"gpt-4o": "gemini-2.5-pro", "fast": "gemini-2.5-flash-lite"}
DEFAULT = "gemini-2.5-flash"


def test_aliases_win_then_gemini_and_gemma_names_pass_through_then_the_default():
    assert gemini_model_for("gpt-4o", ALIASES, DEFAULT) == "gemini-2.5-pro"
    assert gemini_model_for("models/fast", ALIASES, DEFAULT) == "gemini-2.5-flash-lite"
    assert gemini_model_for("models/gemini-3-pro-preview", ALIASES, DEFAULT) == "gemini-3-pro-preview"
    assert gemini_model_for("gemma-3-27b-it", ALIASES, DEFAULT) == "gemma-3-27b-it"
    assert gemini_model_for("gpt-3.5-turbo", ALIASES, DEFAULT) == DEFAULT
    assert gemini_model_for("gemini-2.5-flash", {"gemini-2.5-flash": "gemini-2.5-pro"}, DEFAULT) == "gemini-2.5-pro"
