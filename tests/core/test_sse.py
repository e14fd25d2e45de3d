"""SseParser: Gemini SSE framing in every shape it arrives."""

from __future__ import annotations

import pytest
from hpn_router.core.sse import SseParser, sse_event


def parse(*chunks: bytes) -> list[str]:
    parser = SseParser()
    out: list[str] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out + parser.flush()


@pytest.mark.parametrize("eol", [b"\r\n", b"\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    body = b'data: {"a":1}' + eol + eol + b'data: {"b":2}' + eol + eol
    assert parse(body) == ['{"a":1}', '{"b":2}']


def test_events_complete_as_soon_as_the_blank_line_arrives() -> None:
    parser = SseParser()
    assert parser.feed(b"data: one\r\n") == []
    assert parser.feed(b"\r\n") == ["one"]
    assert parser.flush() == []


def test_cr_at_end_of_read_waits_for_a_possible_lf() -> None:
    parser = SseParser()
    assert parser.feed(b"data: x\r\n\r") == []
    # If the LF follows, it belongs to the same CRLF; no extra empty event appears.
    assert parser.feed(b"\ndata: y\r\n\r\n") == ["x", "y"]


def test_lone_cr_terminator_at_eof() -> None:
    assert parse(b"data: x\r\r") == ["x"]


def test_every_split_of_a_crlf_body() -> None:
    body = 'data: {"t":"héllo 日本"}\r\n\r\n: keep-alive\r\n\r\ndata: {"t":"b"}\r\n\r\n'.encode()
    expected = ['{"t":"héllo 日本"}', '{"t":"b"}']
    for k in range(len(body) + 1):
        assert parse(body[:k], body[k:]) == expected, k


def test_multi_line_data_is_joined_with_newline() -> None:
    assert parse(b"data: a\r\ndata: b\r\ndata:c\r\n\r\n") == ["a\nb\nc"]


def test_comments_and_other_fields_are_ignored() -> None:
    assert parse(b": ping\n\nevent: message\nid: 7\nretry: 10\ndata: x\n\n") == ["x"]


def test_comment_only_block_dispatches_nothing() -> None:
    assert parse(b": ping\r\n\r\n") == []


def test_unicode_line_separators_do_not_split() -> None:
    body = 'data: {"t":"a\u2028b\u2029c\x85d"}\r\n\r\n'.encode()
    assert parse(body) == ['{"t":"a\u2028b\u2029c\x85d"}']


def test_multibyte_character_split_across_reads() -> None:
    body = "data: 日本\n\n".encode()
    assert parse(body[:7], body[7:]) == ["日本"]


def test_flush_dispatches_an_unterminated_last_event() -> None:
    assert parse(b'data: {"a":1}\r\n\r\ndata: {"last":true}') == ['{"a":1}', '{"last":true}']
    assert parse(b"data: x\r\n") == ["x"]


def test_data_without_space_and_empty_data() -> None:
    assert parse(b"data:x\n\ndata\n\ndata: \n\n") == ["x", "", ""]


def test_only_one_leading_space_is_stripped() -> None:
    assert parse(b"data:  two\n\n") == [" two"]


def test_empty_input() -> None:
    assert parse(b"") == []
    assert parse() == []


def test_sse_event_writes_compact_json_with_or_without_an_event_name() -> None:
    assert sse_event({"a": [1, "é"]}) == 'data: {"a":[1,"é"]}\n\n'.encode()
    assert sse_event({"type": "ping"}, name="ping") == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_sse_event_escapes_line_separators_some_splitters_break_on() -> None:
    event = sse_event({"text": "a\u2028b\u2029c"})
    assert "\u2028".encode() not in event and "\u2029".encode() not in event
    assert SseParser().feed(event) == ['{"text":"a\\u2028b\\u2029c"}']
