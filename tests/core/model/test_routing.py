"""routing: a client's model name -> (provider, model)."""

from __future__ import annotations

import pytest
from hpn_router.core.model.routing import Provider, Target, bare_name, route_model, split_target

ALIASES = {"gpt-4o": "gemini-2.5-pro", "fast": "gemini-2.5-flash-lite", "models/pinned": "gemini-2.0-flash"}
DEFAULT = "gemini-2.5-flash"


@pytest.mark.parametrize(
    ("requested", "model"),
    [
        ("gpt-4o", "gemini-2.5-pro"),  # an alias
        ("models/fast", "gemini-2.5-flash-lite"),  # an alias, spelled with Google's prefix
        ("models/pinned", "gemini-2.0-flash"),  # an alias configured with the prefix
        ("models/gemini-3-pro-preview", "gemini-3-pro-preview"),  # Gemini's own names pass through
        ("gemma-3-27b-it", "gemma-3-27b-it"),
        ("gpt-3.5-turbo", DEFAULT),  # anything else: the default
        ("text-embedding-3-small", DEFAULT),
    ],
)
def test_routes(requested: str, model: str) -> None:
    assert route_model(requested, ALIASES, DEFAULT) == Target(Provider.GEMINI, model)


def test_an_alias_wins_over_a_gemini_name() -> None:
    assert route_model("gemini-2.5-flash", {"gemini-2.5-flash": "gemini-2.5-pro"}, DEFAULT).model == "gemini-2.5-pro"


def test_bare_name() -> None:
    assert (bare_name("models/x"), bare_name("x"), bare_name("my-models/x")) == ("x", "x", "my-models/x")


@pytest.mark.parametrize(
    "name",
    [
        "mistral-small-latest",
        "magistral-medium-2509",
        "codestral-latest",
        "devstral-small",
        "ministral-8b",
        "open-mistral-nemo",
        "pixtral-12b",
    ],
)
def test_mistral_names_go_to_mistral(name: str) -> None:
    assert route_model(name, ALIASES, DEFAULT) == Target(Provider.MISTRAL, name)


def test_an_alias_may_name_its_provider() -> None:
    aliases = {"gpt-4o": "mistral/mistral-small-latest", "g": "gemini/gemini-2.5-pro"}
    assert route_model("gpt-4o", aliases, DEFAULT) == Target(Provider.MISTRAL, "mistral-small-latest")
    assert route_model("g", aliases, DEFAULT) == Target(Provider.GEMINI, "gemini-2.5-pro")


def test_split_target_keeps_an_unknown_prefix_as_a_gemini_id() -> None:
    assert split_target("tunedModels/x") == Target(Provider.GEMINI, "tunedModels/x")


def test_claude_names_go_to_anthropic_only_when_the_pool_has_anthropic_keys():
    assert route_model("claude-sonnet-4-5", {}, "gemini-x", {"gemini", "anthropic"}) == Target(Provider.ANTHROPIC, "claude-sonnet-4-5")
    assert route_model("claude-sonnet-4-5", {}, "gemini-x", {"gemini"}) == Target(Provider.GEMINI, "gemini-x")
    # An explicit alias names its provider whatever the pool holds: the chat API answers a 400 for it.
    aliases = {"gpt-5": "anthropic/claude-haiku-4-5"}
    assert route_model("gpt-5", aliases, "gemini-x", {"gemini"}) == Target(Provider.ANTHROPIC, "claude-haiku-4-5")
    assert route_model("mistral-small-latest", {}, "gemini-x", {"gemini"}) == Target(Provider.MISTRAL, "mistral-small-latest")
