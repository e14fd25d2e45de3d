"""What the request parsers' tests share: a minimal valid body of each inbound API with the
test's fields on top, parsed, or the InvalidRequest it is refused with."""

from __future__ import annotations

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.anthropic_messages_request import parse_messages_request
from hpn_router.core.inbound.openai_responses_request import parse_responses_request

HI = [{"role": "user", "content": "hi"}]


def parse_messages(**fields: object):
    return parse_messages_request({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": HI, **fields})


def messages_refused(**fields: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as err:
        parse_messages(**fields)
    return err.value


def parse_responses(**fields: object):
    return parse_responses_request({"model": "gpt-4o", "input": "hi", **fields})


def responses_refused(**fields: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as err:
        parse_responses(**fields)
    return err.value
