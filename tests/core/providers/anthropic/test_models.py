"""Anthropic's model listing: pages read into one list, and the query of the next page."""

from __future__ import annotations

import json

from hpn_router.core.model.catalog import ModelInfo
from hpn_router.core.providers.anthropic.models import next_page_query, served_models


def page(ids: list[str], has_more: bool) -> dict:
    data = [{"type": "model", "id": i, "display_name": i, "created_at": "2025-01-01T00:00:00Z"} for i in ids]
    return {"data": data, "has_more": has_more, "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}


def test_every_page_read_in_order_each_model_once() -> None:
    pages = [page(["claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"], True), page(["claude-haiku-4-5-20251001", "claude-x"], False)]
    assert served_models(pages) == [
        ModelInfo("claude-opus-4-5-20251101", "anthropic"),
        ModelInfo("claude-haiku-4-5-20251001", "anthropic"),
        ModelInfo("claude-x", "anthropic"),
    ]
    assert served_models(page(["claude-y"], False)) == [ModelInfo("claude-y", "anthropic")]  # one listing alone


def test_odd_listings_read_as_what_they_hold() -> None:
    assert served_models(None) == [] and served_models([{"data": "x"}, 3, {"data": [{"id": 5}, {}, "y"]}]) == []


def test_the_next_page_starts_after_the_last_id_while_there_are_more() -> None:
    assert next_page_query(json.dumps(page(["a", "claude b&c"], True)).encode()) == "limit=100&after_id=claude+b%26c"
    assert next_page_query(json.dumps(page(["a"], False)).encode()) is None


def test_a_body_that_does_not_say_how_to_go_on_ends_the_listing() -> None:
    for body in (b"not json", b"[]", json.dumps({"has_more": True}).encode(), json.dumps({"has_more": "yes", "last_id": "a"}).encode()):
        assert next_page_query(body) is None
