"""catalog: the providers' models first, then every alias, each name once."""

from __future__ import annotations

from hpn_router.core.model.catalog import ROUTER, ModelInfo, listed_models

GEMINI = [ModelInfo("gemini-2.5-flash", "google"), ModelInfo("gemini-3.5-flash", "google"), ModelInfo("gemini-2.5-flash", "google")]
ALIASES = {"gpt-4o": "gemini-3.5-flash", "gpt-3.5-turbo": "gemini-2.5-flash", "gemini-2.5-flash": "gemini-3.5-flash"}


def test_provider_order_then_aliases_sorted_without_duplicates() -> None:
    # An alias equal to an upstream id is not listed twice: the provider's entry wins.
    assert listed_models(GEMINI, ALIASES) == [
        ModelInfo("gemini-2.5-flash", "google"),
        ModelInfo("gemini-3.5-flash", "google"),
        ModelInfo("gpt-3.5-turbo", ROUTER),
        ModelInfo("gpt-4o", ROUTER),
    ]


def test_aliases_listed_even_without_their_target_and_without_googles_prefix() -> None:
    assert listed_models([], {"models/my-chat": "gemini-9-ultra", "x": "y"}) == [ModelInfo("my-chat", ROUTER), ModelInfo("x", ROUTER)]


def test_nameless_models_are_left_out() -> None:
    assert listed_models([ModelInfo("", "google")], {}) == []
