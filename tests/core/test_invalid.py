"""InvalidRequest: the core's one exception for a client mistake, carrying what the 400 needs."""

from __future__ import annotations

import pytest
from hpn_router.core.invalid import InvalidRequest


def test_it_carries_message_param_and_code_and_is_a_value_error():
    with pytest.raises(ValueError) as raised:
        raise InvalidRequest("messages[2].role: unknown role", param="messages[2].role", code="invalid_role")
    error = raised.value
    assert (error.message, error.param, error.code) == ("messages[2].role: unknown role", "messages[2].role", "invalid_role")
    assert str(error) == error.message
    assert repr(error) == "InvalidRequest('messages[2].role: unknown role', param='messages[2].role', code='invalid_role')"
    assert InvalidRequest("x").param is None and InvalidRequest("x").code is None
