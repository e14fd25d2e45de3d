"""The model list in Anthropic's shape, for Anthropic's SDKs and Claude Code."""

from __future__ import annotations

from hpn_router.core.inbound.anthropic_models import anthropic_model_list, find_anthropic_model
from hpn_router.core.model.catalog import ModelInfo

MODELS = [ModelInfo("gemini-2.5-flash", "google"), ModelInfo("claude-sonnet-4-5", "hpn-router")]


def test_the_list_is_one_page_of_models() -> None:
    page = anthropic_model_list(MODELS)
    assert page["has_more"] is False and (page["first_id"], page["last_id"]) == ("gemini-2.5-flash", "claude-sonnet-4-5")
    assert page["data"][1] == {
        "type": "model",
        "id": "claude-sonnet-4-5",
        "display_name": "claude-sonnet-4-5",
        "created_at": "1970-01-01T00:00:00Z",
    }
    assert anthropic_model_list([]) == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_one_model_by_id() -> None:
    assert find_anthropic_model(MODELS, "models/gemini-2.5-flash")["id"] == "gemini-2.5-flash"  # type: ignore[index]
    assert find_anthropic_model(MODELS, "claude-opus-4") is None
