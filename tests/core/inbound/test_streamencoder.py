"""What the client encoders share, checked on the three real ones."""

from __future__ import annotations

from typing import Any

import pytest
from hpn_router.core.inbound.anthropic_messages_answer import MessageHead, MessagesEncoder
from hpn_router.core.inbound.openai_chat_stream import ChunkEncoder
from hpn_router.core.inbound.openai_responses_answer import ResponseHead
from hpn_router.core.inbound.openai_responses_stream import ResponsesEncoder
from hpn_router.core.inbound.streamencoder import OneChoiceEncoder, StreamEncoder
from hpn_router.core.model.answer import ChoiceEnd, ChoiceStart, Finish, StreamEnd, TextDelta, Usage, UsageReport


def _chat(max_text: int) -> StreamEncoder:
    return ChunkEncoder(model="m", completion_id="chatcmpl-1", created=0, include_usage=False, max_text=max_text)


def _responses(max_text: int) -> StreamEncoder:
    return ResponsesEncoder(ResponseHead(response_id="resp_1", created=0, model="m"), max_text=max_text)


def _messages(max_text: int) -> StreamEncoder:
    return MessagesEncoder(MessageHead(message_id="msg_1", model="m"), max_text=max_text)


ENCODERS = [_chat, _responses, _messages]


@pytest.mark.parametrize("make", ENCODERS)
def test_the_text_kept_stops_at_max_text_and_the_usage_is_the_last(make: Any) -> None:
    encoder = make(5)
    assert not encoder.started
    events = [ChoiceStart(0), TextDelta(0, "abc"), TextDelta(0, "defg"), ChoiceEnd(0, Finish.STOP)]
    events += [UsageReport(Usage(1, 2)), UsageReport(Usage(3, 4)), StreamEnd()]
    out = encoder.encode_all(events)
    assert b"defg" in b"".join(out)  # the client gets all of it
    assert encoder.text == "abcde"
    assert encoder.usage == Usage(3, 4)
    assert encoder.started


@pytest.mark.parametrize("make", [_responses, _messages])
def test_one_choice_encoders_read_choice_0_only(make: Any) -> None:
    encoder = make(100)
    assert isinstance(encoder, OneChoiceEncoder)
    encoder.encode_all([ChoiceStart(0), ChoiceStart(1), ChoiceEnd(1, Finish.LENGTH), ChoiceEnd(0, Finish.CONTENT_FILTER)])
    assert encoder._finish is Finish.CONTENT_FILTER
    assert encoder.encode(ChoiceStart(2)) == []
