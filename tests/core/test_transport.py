"""The attempt's plain data: a result closes the stream it holds once, and batch answers join
into one JSON array without being parsed."""

from __future__ import annotations

import json

from hpn_router.core.transport import AttemptResult, join_json_answers, join_named_json_answers


class Stream:
    def __init__(self) -> None:
        self.closes = 0

    def close(self) -> None:
        self.closes += 1


def test_closing_a_result_closes_its_stream_once():
    stream = Stream()
    result = AttemptResult(status=200, stream=stream)
    result.close()
    result.close()
    assert stream.closes == 1 and result.stream is None


def test_closing_a_result_without_a_stream_does_nothing():
    AttemptResult(status=429, body=b"{}").close()


def test_answers_join_into_one_json_array_in_order():
    answers = [b'{"embeddings": [{"values": [1.0]}]}\n', b' {"embeddings": []}']
    assert json.loads(join_json_answers(answers)) == [{"embeddings": [{"values": [1.0]}]}, {"embeddings": []}]
    assert join_json_answers([]) == b"[]"


def test_named_answers_join_as_one_object_by_provider() -> None:
    joined = join_named_json_answers({"gemini": b' {"models": []}\n', "mistral": b'{"object": "list", "data": []}'})
    assert json.loads(joined) == {"gemini": {"models": []}, "mistral": {"object": "list", "data": []}}
    assert join_named_json_answers({}) == b"{}"
