"""Tool-call ids and the thought signatures they carry."""

from __future__ import annotations

import base64
import re

import pytest
from hpn_router.core.model.request import Signature
from hpn_router.core.toolids import (
    DUMMY_THOUGHT_SIGNATURE,
    SIGNATURE_MARK,
    THINKING_MARK,
    base_call_id,
    decode_call_id,
    encode_call_id,
    new_call_id,
    pack_call_id,
    unpack_call_id,
)


def test_new_call_id_shape_and_uniqueness() -> None:
    ids = {new_call_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", i) for i in ids)


@pytest.mark.parametrize(
    ("gemini_id", "signature"),
    [
        ("abc123", None),
        ("abc123", "CiQBjz1rX+/sig=="),
        ("a.b-c", "x"),
        ("with_underscore__thought__inside", "sig"),  # hostile id: hex form keeps the split unambiguous
        ("ünïcode id", None),
        (None, "CiQBjz1rX+/sig=="),
        (None, "sig with __thought__ inside and ünïcode"),
        (None, "a"),
    ],
)
def test_round_trip(gemini_id: str | None, signature: str | None) -> None:
    openai_id = encode_call_id(gemini_id, signature)
    assert decode_call_id(openai_id) == (gemini_id, signature)
    assert openai_id.startswith(("call_", "fc_", "fx_"))
    assert (SIGNATURE_MARK in openai_id) == (signature is not None)
    # ids must be safe in any client: printable ASCII without separators or padding
    assert re.fullmatch(r"[A-Za-z0-9._\-]+", openai_id)


def test_encodings() -> None:
    assert encode_call_id("abc", None) == "fc_abc"
    assert encode_call_id("a_b", None) == "fx_" + b"a_b".hex()
    assert encode_call_id("abc", "sig") == "fc_abc__thought__c2ln"
    synthesized = encode_call_id(None, "sig")
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}__thought__c2ln", synthesized)
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", encode_call_id(None, None))
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", encode_call_id("", ""))


def test_synthesized_ids_are_random_each_time() -> None:
    assert encode_call_id(None, None) != encode_call_id(None, None)


@pytest.mark.parametrize(
    "foreign",
    ["call_abc", "toolu_01ABC", "call_8cF2kQ1", "tool_0", "fc_", "fc_bad id", "fx_zz", "fx_abc", "fx_ff", ""],
)
def test_foreign_ids_are_never_sent_upstream(foreign: str) -> None:
    assert decode_call_id(foreign) == (None, None)


def test_mangled_signature_suffix_is_dropped_not_fatal() -> None:
    gemini_id, signature = decode_call_id("fc_abc__thought__" + base64.urlsafe_b64encode(b"\xff\xfe").decode())
    assert gemini_id == "abc" and signature is None
    assert decode_call_id("call_x__thought__") == (None, None)
    assert decode_call_id("call_x__thought__A") == (None, None)


def test_dummy_signature_is_googles_documented_value() -> None:
    assert base64.b64decode(DUMMY_THOUGHT_SIGNATURE) == b"skip_thought_signature_validator"


def test_each_signature_rides_after_its_makers_mark_and_comes_back_with_its_origin() -> None:
    anthropic = pack_call_id("toolu_01abc", '[{"thinking":"t","signature":"s"}]', "anthropic")
    gemini = pack_call_id("fc_abc", "sig", "gemini")
    assert THINKING_MARK in anthropic and SIGNATURE_MARK not in anthropic and SIGNATURE_MARK in gemini
    assert unpack_call_id(anthropic) == (None, Signature('[{"thinking":"t","signature":"s"}]', "anthropic"))
    assert unpack_call_id(gemini) == ("abc", Signature("sig", "gemini"))
    assert decode_call_id(anthropic) == (None, None)  # Gemini's reading finds nothing of Claude's
    assert base_call_id(anthropic) == "toolu_01abc" and base_call_id(gemini) == "fc_abc" and base_call_id("call_1") == "call_1"
    assert pack_call_id("toolu_1", None, "anthropic") == "toolu_1" and unpack_call_id("toolu_1") == (None, None)
