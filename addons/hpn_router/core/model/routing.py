"""Which provider and model serve a client's model name. Pure.

One function, so that adding a provider (claude-* to Anthropic, mistral-* to Mistral) changes
one place. Clients may spell a name with Google's `models/` prefix; it is dropped.

Usage:
    target = route_model("gpt-4o", config.models, config.gemini.default_model)
    target.provider, target.model    # Provider.GEMINI, "gemini-2.5-flash"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

GOOGLE_PREFIX = "models/"


class Provider(StrEnum):
    GEMINI = "gemini"


@dataclass(frozen=True, slots=True)
class Target:
    provider: Provider
    model: str  # the provider's own model id


def bare_name(name: str) -> str:
    """A model name without Google's `models/` prefix."""
    return name.removeprefix(GOOGLE_PREFIX)


def route_model(requested: str, aliases: Mapping[str, str], default_model: str) -> Target:
    """Configured aliases first (as spelled, then without `models/`); `gemini-*` and `gemma-*`
    names pass through; any other name (gpt-4, gpt-4o, ...) goes to `default_model`."""
    name = bare_name(requested)
    if requested in aliases:
        return Target(Provider.GEMINI, aliases[requested])
    if name in aliases:
        return Target(Provider.GEMINI, aliases[name])
    if name.startswith(("gemini-", "gemma-")):
        return Target(Provider.GEMINI, name)
    return Target(Provider.GEMINI, default_model)
