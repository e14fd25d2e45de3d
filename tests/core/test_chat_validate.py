"""validate_chat_request: every client mistake is a 400 naming its field. Here the body as a
whole and the sampling parameters; the messages' cases are test_chat_validate_messages.py's, the
tools' test_chat_validate_tools.py's."""

from __future__ import annotations

import pytest
from chatbodies import BASE, assert_names_the_field, assert_passes_unchanged, with_

INVALID: list[tuple[str, object, str | None]] = [
    ("not an object", [BASE], None),
    ("no model", {"messages": BASE["messages"]}, "model"),
    ("empty model", with_(model=" "), "model"),
    ("model not str", with_(model=5), "model"),
    ("no messages", {"model": "m"}, "messages"),
    ("empty messages", with_(messages=[]), "messages"),
    ("messages not list", with_(messages={"role": "user"}), "messages"),
    ("temperature too high", with_(temperature=2.5), "temperature"),
    ("temperature string", with_(temperature="1"), "temperature"),
    ("temperature bool", with_(temperature=True), "temperature"),
    ("temperature nan", with_(temperature=float("nan")), "temperature"),
    ("top_p above 1", with_(top_p=1.5), "top_p"),
    ("n zero", with_(n=0), "n"),
    ("n nine", with_(n=9), "n"),
    ("n bool", with_(n=True), "n"),
    ("n float", with_(n=2.0), "n"),
    ("max_tokens zero", with_(max_tokens=0), "max_tokens"),
    ("max_completion_tokens negative", with_(max_completion_tokens=-5), "max_completion_tokens"),
    ("max_tokens bool", with_(max_tokens=True), "max_tokens"),
    ("seed float", with_(seed=1.5), "seed"),
    ("seed bool", with_(seed=False), "seed"),
    ("presence_penalty range", with_(presence_penalty=3), "presence_penalty"),
    ("frequency_penalty range", with_(frequency_penalty=-2.1), "frequency_penalty"),
    ("stream string", with_(stream="true"), "stream"),
    ("stream int", with_(stream=1), "stream"),
    ("stream_options list", with_(stream_options=[]), "stream_options"),
    ("include_usage string", with_(stream_options={"include_usage": "yes"}), "stream_options.include_usage"),
    ("stop number", with_(stop=5), "stop"),
    ("stop list of numbers", with_(stop=[1]), "stop"),
    ("stop too many", with_(stop=["a", "b", "c", "d", "e", "f"]), "stop"),
    ("response_format unknown", with_(response_format={"type": "xml"}), "response_format.type"),
    ("response_format string", with_(response_format="json"), "response_format.type"),
    ("json_schema missing", with_(response_format={"type": "json_schema"}), "response_format.json_schema"),
    (
        "json_schema schema not object",
        with_(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": "s"}}),
        "response_format.json_schema.schema",
    ),
    ("reasoning_effort unknown", with_(reasoning_effort="extreme"), "reasoning_effort"),
    ("top_logprobs without logprobs", with_(top_logprobs=2), "top_logprobs"),
    ("top_logprobs range", with_(logprobs=True, top_logprobs=21), "top_logprobs"),
    ("logprobs string", with_(logprobs="yes"), "logprobs"),
]


@pytest.mark.parametrize(("case", "body", "param"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_requests_name_the_field(case: str, body: object, param: str | None) -> None:
    assert_names_the_field(body, param)


VALID: list[tuple[str, dict]] = [
    ("minimal", BASE),
    ("unknown top-level keys ignored", with_(extra_body_key={"x": 1}, user="u", metadata={"a": "b"}, store=False)),
    ("nulls everywhere", with_(temperature=None, n=None, stop=None, tools=None, tool_choice=None, response_format=None, seed=None)),
    ("boundaries", with_(temperature=0, top_p=1, n=8, presence_penalty=-2, frequency_penalty=2, max_tokens=1, seed=-(2**40))),
    ("int temperature", with_(temperature=2)),
    ("stop five", with_(stop=["a", "b", "c", "d", "e"])),
    ("all efforts", with_(reasoning_effort="xhigh")),
    ("json_schema without schema", with_(response_format={"type": "json_schema", "json_schema": {"name": "x"}})),
    ("logprobs", with_(logprobs=True, top_logprobs=0)),
]


@pytest.mark.parametrize(("case", "body"), VALID, ids=[c[0] for c in VALID])
def test_valid_requests_pass_unchanged(case: str, body: dict) -> None:
    assert_passes_unchanged(body)
