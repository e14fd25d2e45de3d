"""Anthropic's ``GET /v1/models`` -> the neutral ModelInfo list, and its pagination. Pure.

Anthropic lists its models a page at a time (`{"data": [{"type": "model", "id", "display_name",
"created_at"}, ...], "has_more", "first_id", "last_id"}`, newest first); the next page is asked
for with `after_id=<last_id>`. The router reads every page it fetched (a list of pages, in order)
into one list, each model `owned_by` Anthropic.

Usage:
    query = next_page_query(body)             # "limit=100&after_id=claude-..." or None
    models = served_models([page1, page2])    # [ModelInfo("claude-opus-4-5-20251101", "anthropic"), ...]
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from ...model.catalog import ModelInfo

ANTHROPIC = "anthropic"  # the maker, in OpenAI's `owned_by`
PAGE_QUERY = "limit=100"  # Anthropic's default page is 20 models; 100 keeps today's list on one page


def next_page_query(body: bytes) -> str | None:
    """The query of the page after this one (an Anthropic listing's raw body), or None: the
    last page, or a body that does not say how to go on."""
    try:
        page = json.loads(body)
    except ValueError:
        return None
    if not isinstance(page, dict) or page.get("has_more") is not True:
        return None
    last = page.get("last_id")
    return f"{PAGE_QUERY}&{urlencode({'after_id': last})}" if isinstance(last, str) and last else None


def served_models(pages: Any) -> list[ModelInfo]:
    """Every model on the pages (a list of listings, or one listing), in Anthropic's order, once."""
    listed: list[ModelInfo] = []
    seen: set[str] = set()
    for page in pages if isinstance(pages, list) else [pages]:
        data = page.get("data") if isinstance(page, dict) else None
        for entry in data if isinstance(data, list) else []:
            model_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(model_id, str) and model_id and model_id not in seen:
                seen.add(model_id)
                listed.append(ModelInfo(model_id, ANTHROPIC))
    return listed
