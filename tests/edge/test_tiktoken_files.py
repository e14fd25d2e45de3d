"""cl100k_base from the file the install ships, checked against tiktoken's SHA-256: no network."""

from __future__ import annotations

import hashlib

import pytest
from hpn_router.edge import tiktoken_files
from hpn_router.edge.tiktoken_files import BLOB_URL, EncodingUnavailable, bpe_file, cl100k_base, parse_ranks, write_tiktoken_cache


def test_the_shipped_file_decodes_token_ids_as_openai_counts_them():
    encoding = cl100k_base()
    assert encoding.decode([9906, 1917]) == "Hello world" and encoding.encode("Hello world") == [9906, 1917]


def test_ranks_are_tiktokens_format():
    assert parse_ranks(b"SGVsbG8= 0\nIHdvcmxk 1\n") == {b"Hello": 0, b" world": 1}


def test_a_file_that_is_not_the_expected_one_is_refused(monkeypatch):
    monkeypatch.setattr(tiktoken_files, "SHA256", "0" * 64)
    with pytest.raises(EncodingUnavailable, match="does not match"):
        bpe_file()


def test_the_cache_file_is_named_as_tiktoken_looks_for_it(tmp_path):
    folder = write_tiktoken_cache(tmp_path / "cache")
    [written] = folder.iterdir()
    assert written.name == hashlib.sha1(BLOB_URL.encode()).hexdigest() and written.read_bytes() == bpe_file()
