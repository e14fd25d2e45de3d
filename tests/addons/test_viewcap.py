"""ViewCap: mitmweb's view keeps at most server.mitmweb_max_flows flows."""

from __future__ import annotations

from hpn_router.addons.viewcap import ViewCap, oldest_finished
from hpn_router.config import parse_config
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

ONE_KEY = {"key_pool": {"keys": [{"name": "k", "key": "AIzaK"}]}}


def _finished(n: int) -> list:
    flows = [tflow.tflow(resp=True) for _ in range(n)]
    for f in flows:
        f.live = False
    return flows


def test_oldest_finished_skips_live_flows():
    a, b, c = _finished(3)
    b.live = True
    assert oldest_finished([a, b, c], 2) == [a, c]
    assert oldest_finished([a, b, c], 0) == []


def test_the_view_is_trimmed_to_the_cap_oldest_first_live_flows_kept():
    view, cap = View(), ViewCap()
    with taddons.context(view, cap):
        cap.apply(parse_config({**ONE_KEY, "server": {"mitmweb_max_flows": 3}}, {}))
        flows = _finished(5)
        live = tflow.tflow()  # still in flight: never removed (removing would kill it)
        view.add([live, *flows])
        cap.response(flows[-1])
        kept = list(view._store.values())
        assert kept == [live, flows[3], flows[4]]


def test_a_lower_cap_applies_at_once():
    view, cap = View(), ViewCap()
    with taddons.context(view, cap):
        view.add(_finished(4))
        cap.apply(parse_config({**ONE_KEY, "server": {"mitmweb_max_flows": 2}}, {}))
        assert view.store_count() == 2


def test_without_a_view_it_does_nothing():
    cap = ViewCap()
    with taddons.context(cap):
        cap.response(tflow.tflow(resp=True))
        cap.error(tflow.tflow(err=True))
