"""Config reloads across routers: the notice's wire format, who announces, who follows."""

from __future__ import annotations

from hpn_router.core.sharedreload import NoticeFilter, ReloadNotice, announces, decode_reload, encode_reload, router_name, siblings_of
from hpn_router.core.sharedstate import PoolDelta, decode_delta, encode_delta


def test_a_reload_notice_round_trips_and_is_never_taken_for_a_delta():
    notice = ReloadNotice("sender-1", "host-a pid 42", "n-1", siblings=None)
    text = encode_reload(notice)
    assert decode_reload(text) == notice
    assert decode_delta(text) is None  # a router that only knows deltas skips it
    assert decode_reload(encode_delta(PoolDelta(disabled={"d": "401"}), "sender-1")) is None
    for junk in ("", "[]", '{"kind": "reload"}', '{"kind": "reload", "sender": 1, "origin": "a", "notice": "n"}', "\xff"):
        assert decode_reload(junk) is None
    assert decode_reload(encode_reload(ReloadNotice("s", "o", "n", siblings="host pid 7"))) == ReloadNotice("s", "o", "n", "host pid 7")


def test_operator_reloads_are_announced_a_peers_never_and_a_supervisors_sighup_once():
    assert announces("admin_api", None) and announces("sighup", None) and announces("admin_api", 3)
    assert not announces("peer", None) and not announces("option", None)
    assert announces("sighup", 0) and not announces("sighup", 1)  # every worker got it: worker 0 tells the rest
    assert siblings_of("sighup", 0, "host pid 7") == "host pid 7"
    assert siblings_of("admin_api", 0, "host pid 7") is None and siblings_of("sighup", None, "") is None
    assert router_name("host-a", 42, None) == "host-a pid 42" and router_name("host-a", 42, 1) == "host-a pid 42 worker 1"


def test_a_router_follows_each_notice_once_never_its_own_nor_its_supervisors_sighup():
    follows = NoticeFilter("host pid 7", size=2).follows
    assert not follows(ReloadNotice("me", "o", "n-0"), "me")
    assert follows(ReloadNotice("other", "o", "n-1"), "me")
    assert not follows(ReloadNotice("other", "o", "n-1"), "me")  # delivered twice: reloads once
    assert not follows(ReloadNotice("other", "o", "n-2", siblings="host pid 7"), "me")  # the SIGHUP came here too
    assert follows(ReloadNotice("other", "o", "n-3", siblings="elsewhere pid 7"), "me")
    assert NoticeFilter(None).follows(ReloadNotice("other", "o", "n-4", siblings="host pid 7"), "me")
