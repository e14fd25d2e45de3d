"""Which provider and model serve a client's model name. Pure.

One function, so that adding a provider changes one place. Clients may spell a name with
Google's `models/` prefix; it is dropped. A configured alias may name its provider
(`gpt-4o: mistral/mistral-small-latest`, `anthropic/claude-sonnet-4-5`); an alias without one is a
Gemini model.

Usage:
    target = route_model("gpt-4o", config.models, config.gemini.default_model)
    target.provider, target.model    # Provider.GEMINI, "gemini-2.5-flash"
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

GOOGLE_PREFIX = "models/"


class Provider(StrEnum):
    GEMINI = "gemini"
    MISTRAL = "mistral"
    ANTHROPIC = "anthropic"


# Model-name families each provider serves under its own names.
_PREFIXES: dict[Provider, tuple[str, ...]] = {
    Provider.GEMINI: ("gemini-", "gemma-"),
    Provider.MISTRAL: ("mistral-", "magistral-", "codestral-", "devstral-", "ministral-", "open-mistral-", "pixtral-"),
    Provider.ANTHROPIC: ("claude-",),
}
# Families that stay on the default Gemini model when the pool has no key of their provider:
# Claude Code asks for claude-* names, and served a Gemini pool before Anthropic keys existed.
_DEFAULT_WITHOUT_KEYS = frozenset({Provider.ANTHROPIC})


@dataclass(frozen=True, slots=True)
class Target:
    provider: Provider
    model: str  # the provider's own model id


def bare_name(name: str) -> str:
    """A model name without Google's `models/` prefix."""
    return name.removeprefix(GOOGLE_PREFIX)


def split_target(value: str) -> Target:
    """An alias's value: `provider/model`, or a bare model id (Gemini's, as before providers)."""
    provider, sep, model = value.partition("/")
    if sep and provider in Provider.__members__.values():
        return Target(Provider(provider), model)
    return Target(Provider.GEMINI, value)


def provider_of_name(name: str) -> Provider | None:
    """The provider whose own model names look like `name`, if any."""
    return next((p for p, prefixes in _PREFIXES.items() if name.startswith(prefixes)), None)


def route_model(requested: str, aliases: Mapping[str, str], default_model: str, configured: Collection[str] | None = None) -> Target:
    """Configured aliases first (as spelled, then without `models/`); a provider's own names
    (`gemini-*`, `mistral-*`, `claude-*`, ...) pass through to it; any other name (gpt-4,
    gpt-4o, ...) goes to `default_model` on Gemini. `configured`: the providers with keys in
    the pool (None: all); a `claude-*` name without Anthropic keys goes to `default_model`."""
    name = bare_name(requested)
    if requested in aliases:
        return split_target(aliases[requested])
    if name in aliases:
        return split_target(aliases[name])
    provider = provider_of_name(name)
    if provider in _DEFAULT_WITHOUT_KEYS and configured is not None and provider not in configured:
        return Target(Provider.GEMINI, default_model)
    if provider is not None:
        return Target(provider, name)
    return Target(Provider.GEMINI, default_model)
