"""Gemini ``models.list`` → OpenAI ``GET /v1/models`` (wire-formats §2.6).

Pure: the caller fetches every page of ``models`` and passes the ``models``
arrays joined. Ids lose Gemini's ``models/`` prefix, since OpenAI clients send
bare ids. Configured aliases are always listed, even when their target is
missing upstream, so a client can discover every name the router accepts.

Usage:
    listing = gemini_models_to_openai(pages_models, config.aliases)
    entry = find_model(listing, "gemini-2.5-flash")   # None -> 404
"""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "models/"
# Models that serve neither chat nor embeddings (e.g. AQA, Imagen's "predict")
# would only fail when a client picks them.
SERVED_METHODS = frozenset({"generateContent", "embedContent"})
GOOGLE = "google"
ROUTER = "hpn-router"


def bare_id(name: str) -> str:
    return name.removeprefix(PREFIX)


def gemini_models_to_openai(gemini_models: list[dict], aliases: Mapping[str, str], *, created: int = 0) -> dict:
    """``{"object": "list", "data": [...]}``: Gemini order first, then aliases sorted, no duplicates."""
    data: list[dict] = []
    seen: set[str] = set()

    def add(model_id: str, owned_by: str) -> None:
        if model_id and model_id not in seen:
            seen.add(model_id)
            data.append({"id": model_id, "object": "model", "created": created, "owned_by": owned_by})

    for model in gemini_models:
        name = model.get("name") if isinstance(model, dict) else None
        if not isinstance(name, str):
            continue
        methods = model.get("supportedGenerationMethods")
        # A missing (or garbled) field says nothing about the model: list it rather than hide it.
        if not isinstance(methods, list) or SERVED_METHODS.intersection(methods):
            add(bare_id(name), GOOGLE)
    for alias in sorted(aliases):
        add(bare_id(alias), ROUTER)
    return {"object": "list", "data": data}


def find_model(listing: dict, model_id: str) -> dict | None:
    """The entry of ``listing`` whose id is ``model_id`` (``models/x`` accepted), else None."""
    wanted = bare_id(model_id)
    return next((entry for entry in listing.get("data", []) if entry.get("id") == wanted), None)
