"""Request ids: the client's own when sane, else a new one."""

from __future__ import annotations

import pytest
from hpn_router.core.requestid import MAX_LENGTH, request_id


def new() -> str:
    return "req_new"


@pytest.mark.parametrize("sent", ["abc", "7f9c2ba4-e88f-4a1b-9d2c-1f0e8a7b6c5d", "req_01HZX:1/2+3=", "a" * MAX_LENGTH])
def test_a_sane_client_id_is_kept(sent: str) -> None:
    assert request_id(sent, new=new) == sent


@pytest.mark.parametrize("sent", [None, "", "a" * (MAX_LENGTH + 1), "id with spaces", "id\nevent=forged", "-leading", "ünïcode", 'x"y'])
def test_anything_else_gets_a_new_id(sent: str | None) -> None:
    assert request_id(sent, new=new) == "req_new"
