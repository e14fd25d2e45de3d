"""What the relay reads of a request (edge/relayrequest.py): the head's token, framing and log
line, and a body read to its end and thrown away, refused past the limit or when malformed."""

from __future__ import annotations

import asyncio

import pytest
from hpn_router.edge.relayrequest import TOKEN_HEADER, RelayRequest, discard_body, parse_head


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_the_head_gives_the_token_the_framing_and_the_line_without_the_query():
    head = f"POST /v1beta/models/x:stream?alt=sse HTTP/1.1\r\nHost: x\r\n{TOKEN_HEADER.upper()}: tok\r\nContent-Length: 12\r\n\r\n"
    assert parse_head(head.encode()) == RelayRequest("POST /v1beta/models/x:stream", "tok", 12, False)
    chunked = parse_head(b"GET / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n")
    assert chunked.chunked and chunked.token is None and chunked.length == 0


def test_a_content_length_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError, match="content-length"):
        parse_head(b"POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n")


async def test_a_body_is_read_to_its_end_and_what_follows_stays_unread():
    reader = reader_of(b"0123456789NEXT")
    await discard_body(reader, RelayRequest("POST /", None, 10, False), limit=10)
    assert await reader.read() == b"NEXT"


async def test_a_chunked_body_and_its_trailers_are_read_to_their_end():
    reader = reader_of(b"5\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\nNEXT")
    await discard_body(reader, RelayRequest("POST /", None, 0, True), limit=100)
    assert await reader.read() == b"NEXT"


@pytest.mark.parametrize(
    ("data", "head", "message"),
    [
        (b"", RelayRequest("POST /", None, 11, False), "a body over 10 bytes"),
        (b"b\r\nhello world\r\n0\r\n\r\n", RelayRequest("POST /", None, 0, True), "a body over 10 bytes"),
        (b"zz\r\n", RelayRequest("POST /", None, 0, True), "invalid literal"),
    ],
)
async def test_a_body_over_the_limit_or_malformed_is_refused(data: bytes, head: RelayRequest, message: str):
    with pytest.raises(ValueError, match=message):
        await discard_body(reader_of(data), head, limit=10)
