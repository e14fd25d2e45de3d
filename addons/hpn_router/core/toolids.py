"""Tool-call ids that OpenAI clients see, and the thought signatures they carry.

OpenAI clients keep only ``id/type/function`` of a tool call, so everything Gemini
needs back on the next request travels inside the id (docs/gemini-wire-format.md#tool-call-ids-and-signatures):

    <base>[__thought__<sig>]

    base = call_<24 random alphanumerics>   Gemini sent no id; never sent upstream
         | fc_<gemini id>                   Gemini id made only of [A-Za-z0-9.-]
         | fx_<hex of the utf-8 gemini id>  any other Gemini id (keeps the split unambiguous)
    sig  = urlsafe base64 (no padding) of the utf-8 thoughtSignature string

No base form can contain ``__thought__``, so splitting at its first occurrence is
unambiguous. Ids the proxy did not mint (other providers' ``toolu_…``, hand-made
``call_1``) decode to ``(None, None)``: nothing of them is sent to Gemini.

Anthropic's thinking blocks ride the same way on the first call of a turn, after their own
mark, so they are never taken for a Gemini signature (docs/anthropic-thinking.md#thinking-in-tool-call-ids):

    toolu_<anthropic id>[__thinking__<urlsafe base64 of the blocks' JSON>]

``unpack_call_id`` reads either form into the model's ``Signature`` with its origin.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string

from .model.request import Signature

SIGNATURE_MARK = "__thought__"
THINKING_MARK = "__thinking__"  # Anthropic's thinking blocks (see the module's notes)
_MARKS = {"anthropic": THINKING_MARK}  # the mark of each signature's maker; Gemini's is SIGNATURE_MARK
SYNTHETIC_PREFIX = "call_"
PLAIN_ID_PREFIX = "fc_"
HEX_ID_PREFIX = "fx_"
RANDOM_LEN = 24

_ALPHABET = string.ascii_letters + string.digits
_PLAIN_ID = re.compile(r"[A-Za-z0-9.\-]+")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")

# Google's documented last resort when a Gemini 3 function call has lost its
# signature (docs/gemini-wire-format.md#thought-signatures); it lowers quality, so only used when needed.
DUMMY_THOUGHT_SIGNATURE = base64.b64encode(b"skip_thought_signature_validator").decode("ascii")


def new_call_id() -> str:
    """A fresh synthesized id: ``call_`` + 24 random alphanumerics."""
    return SYNTHETIC_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_LEN))


def encode_call_id(gemini_id: str | None, signature: str | None) -> str:
    """The id an OpenAI client sees for a Gemini functionCall part."""
    if gemini_id:
        if _PLAIN_ID.fullmatch(gemini_id):
            base = PLAIN_ID_PREFIX + gemini_id
        else:
            base = HEX_ID_PREFIX + gemini_id.encode("utf-8").hex()
    else:
        base = new_call_id()
    if not signature:
        return base
    packed = base64.urlsafe_b64encode(signature.encode("utf-8")).decode("ascii").rstrip("=")
    return base + SIGNATURE_MARK + packed


def decode_call_id(openai_id: str) -> tuple[str | None, str | None]:
    """``(gemini id to echo upstream or None, thought signature or None)``."""
    base, _, packed = openai_id.partition(SIGNATURE_MARK)
    return _decode_base(base), _decode_signature(packed)


def _decode_base(base: str) -> str | None:
    if base.startswith(PLAIN_ID_PREFIX):
        rest = base[len(PLAIN_ID_PREFIX) :]
        return rest if _PLAIN_ID.fullmatch(rest) else None
    if base.startswith(HEX_ID_PREFIX):
        rest = base[len(HEX_ID_PREFIX) :]
        if _HEX.fullmatch(rest):
            try:
                return bytes.fromhex(rest).decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def _decode_signature(packed: str) -> str | None:
    if not packed:
        return None
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        # A client-mangled suffix: better to lose the signature than to 400.
        return None


def pack_call_id(call_id: str, signature: str | None, provider: str | None) -> str:
    """The id a client sees for a call: its own, with its maker's signature folded in after the maker's mark."""
    if not signature:
        return call_id
    packed = base64.urlsafe_b64encode(signature.encode("utf-8")).decode("ascii").rstrip("=")
    return call_id + _MARKS.get(provider or "", SIGNATURE_MARK) + packed


def unpack_call_id(client_id: str) -> tuple[str | None, Signature | None]:
    """``(Gemini id to echo upstream or None, the signature with its maker or None)``."""
    base, mark, packed = client_id.partition(THINKING_MARK)
    if mark:
        thinking = _decode_signature(packed)
        return None, Signature(thinking, "anthropic") if thinking else None
    gemini_id, signature = decode_call_id(client_id)
    return gemini_id, Signature(signature, "gemini") if signature else None


def base_call_id(client_id: str) -> str:
    """The call's own id, without a signature folded in (what a provider other than Gemini is sent)."""
    return client_id.partition(THINKING_MARK)[0].partition(SIGNATURE_MARK)[0] or client_id
