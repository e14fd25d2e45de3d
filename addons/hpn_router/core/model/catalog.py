"""The models a client can name: the providers' live lists plus the configured aliases. Pure.

Aliases are always listed, even when their target is missing upstream, so a client can
discover every name the router accepts.

Usage:
    models = listed_models(served_models(gemini_pages_models), config.models)
    openai_model_list(models)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .routing import bare_name

ROUTER = "hpn-router"  # the owner of an alias: the router made the name up


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str  # the name a client sends, without `models/`
    owner: str  # who makes the model ("google"), or ROUTER for an alias


def listed_models(provider_models: Iterable[ModelInfo], aliases: Mapping[str, str]) -> list[ModelInfo]:
    """The providers' models in their order, then the aliases sorted; each id once, the first wins."""
    listed: list[ModelInfo] = []
    seen: set[str] = set()
    for model in [*provider_models, *(ModelInfo(bare_name(alias), ROUTER) for alias in sorted(aliases))]:
        if model.id and model.id not in seen:
            seen.add(model.id)
            listed.append(model)
    return listed
