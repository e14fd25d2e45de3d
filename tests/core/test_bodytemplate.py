"""BodyTemplate: a body rendered once with holes, filled per request, equals rendering it again."""

from __future__ import annotations

import json
from typing import Any

from hpn_router.core.bodytemplate import BodyTemplate
from hpn_router.core.inbound.openai_chat_cached import completion_to_sse

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-stored",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": 'Say "hpn-slot-x-id" \u2028 ok'}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


def test_filling_the_holes_gives_the_body_rendered_with_those_values() -> None:
    template = BodyTemplate.render(
        lambda slot: json.dumps({**COMPLETION, "id": slot("id"), "created": slot("created"), "model": slot("model")}).encode(),
        ("id", "created", "model"),
    )
    assert template.holes == ("id", "created", "model")
    body = template.fill({"id": b'"chatcmpl-new"', "created": b"1800000000", "model": b'"gpt-4o"'})
    assert body == json.dumps({**COMPLETION, "id": "chatcmpl-new", "created": 1800000000, "model": "gpt-4o"}).encode()


def test_every_sse_chunk_gets_the_values() -> None:
    def render(slot: Any) -> bytes:
        return b"".join(completion_to_sse({**COMPLETION, "id": slot("id"), "model": slot("model")}, include_usage=True))

    template = BodyTemplate.render(render, ("id", "model"))
    assert template.holes.count("id") == len(completion_to_sse(COMPLETION, include_usage=True)) - 1  # every chunk but [DONE]
    body = template.fill({"id": b'"chatcmpl-new"', "model": b'"m"'})
    assert body == b"".join(completion_to_sse({**COMPLETION, "id": "chatcmpl-new", "model": "m"}, include_usage=True))


def test_text_that_looks_like_a_marker_is_not_a_hole() -> None:
    # The answer's own text holds the marker's shape without the process's random part, and
    # quoted as a JSON string inside a string.
    template = BodyTemplate.render(lambda slot: json.dumps({"text": '"hpn-slot-id"', "id": slot("id")}).encode(), ("id",))
    assert template.holes == ("id",)
    assert template.fill({"id": b"1"}) == json.dumps({"text": '"hpn-slot-id"', "id": 1}).encode()


def test_a_body_without_holes_is_one_part() -> None:
    template = BodyTemplate.render(lambda slot: b'{"a": 1}', ("id",))
    assert (template.parts, template.holes) == ((b'{"a": 1}',), ())
    assert template.fill({}) == b'{"a": 1}'
