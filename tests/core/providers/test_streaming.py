"""The skeleton every provider's stream decoder shares, checked on the three real decoders."""

from __future__ import annotations

import pytest
from hpn_router.core.model.answer import StreamEnd, StreamError
from hpn_router.core.providers.anthropic.chat_answer import AnthropicStreamDecoder
from hpn_router.core.providers.gemini.chat_answer import GeminiStreamDecoder
from hpn_router.core.providers.mistral.chat_answer import MistralStreamDecoder
from hpn_router.core.providers.streaming import StreamDecoder, as_dict, as_int

DECODERS = [GeminiStreamDecoder, MistralStreamDecoder, AnthropicStreamDecoder]


@pytest.mark.parametrize("decoder_class", DECODERS)
def test_bytes_that_never_made_an_event_fail_the_stream(decoder_class: type[StreamDecoder]) -> None:
    decoder = decoder_class()
    assert decoder.feed(b'[{"candidates": []}]') == []
    assert decoder.finish() == [StreamError("upstream response was not a server-sent event stream", "upstream_error")]


@pytest.mark.parametrize("payload", [b"data: {not json\n\n", b"data: [1, 2]\n\n"])
@pytest.mark.parametrize("decoder_class", DECODERS)
def test_a_malformed_event_fails_once_and_nothing_follows(decoder_class: type[StreamDecoder], payload: bytes) -> None:
    decoder = decoder_class()
    assert decoder.feed(payload) == [StreamError("upstream sent a malformed stream event", "upstream_error")]
    assert decoder.feed(payload) == []
    assert decoder.finish() == []
    assert decoder.fail("again") == []


@pytest.mark.parametrize("decoder_class", DECODERS)
def test_fail_ends_the_stream_with_its_code(decoder_class: type[StreamDecoder]) -> None:
    decoder = decoder_class()
    assert decoder.fail("connection lost", code="timeout") == [StreamError("connection lost", "timeout")]
    assert decoder.finish() == []


@pytest.mark.parametrize("decoder_class", [GeminiStreamDecoder, MistralStreamDecoder])
def test_an_empty_stream_ends_with_stream_end(decoder_class: type[StreamDecoder]) -> None:
    events = decoder_class().finish()
    assert events[-1] == StreamEnd()
    assert not any(isinstance(event, StreamError) for event in events)


def test_only_mistral_skips_its_done_marker() -> None:
    assert MistralStreamDecoder().feed(b"data: [DONE]\n\n") == []
    assert GeminiStreamDecoder().feed(b"data: [DONE]\n\n") == [StreamError("upstream sent a malformed stream event", "upstream_error")]


@pytest.mark.parametrize(("value", "expected"), [({"a": 1}, {"a": 1}), (None, {}), ([1], {}), ("x", {})])
def test_as_dict(value: object, expected: dict[str, object]) -> None:
    assert as_dict(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (True, 7), ("3", 7), (None, 7), (2.0, 7)])
def test_as_int_takes_json_integers_only(value: object, expected: int) -> None:
    assert as_int(value, 7) == expected
