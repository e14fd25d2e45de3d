"""bench/profile_summary.py: each py-spy sample charged to one group by its frames. Pure: the
stacks are written here as py-spy's raw format writes them (outermost frame first)."""

from benchmodules import load

summary = load("profile_summary")

LEAN = ["<module> (hpn_router/__main__.py:5)", "main (hpn_router/edge/runner.py:300)", "run (mitmproxy/master.py:60)"]
FRONT = [
    "FrontConnection._run (hpn_router/edge/frontconnection.py:310)",
    "exchange (hpn_router/edge/frontexchange.py:50)",
    "ReverseFront.flow_event (hpn_router/edge/reversefront.py:90)",
]


def test_the_reverse_fronts_own_work_is_its_group():
    parse = [*LEAN, *FRONT, "read_request_head (mitmproxy/net/http/http1/read.py:250)"]
    write = [*LEAN, *FRONT, "_SelectorSocketTransport.write (asyncio/selector_events.py:1057)"]
    assert summary.group_of(parse) == summary.FRONT_GROUP
    assert summary.group_of(write) == summary.FRONT_GROUP


def test_an_addon_called_by_the_front_is_charged_to_the_addon_not_the_front():
    hook = [*LEAN, *FRONT, "HookTable.trigger_event (hpn_router/edge/hooktable.py:76)"]
    assert summary.group_of([*hook, "ChatTranslation.translate_request (hpn_router/addons/chat.py:120)"]).startswith("router: translation")
    assert summary.group_of([*hook, "Metrics.response (hpn_router/addons/metrics.py:50)"]).startswith("router: metrics")
    # The hook table itself is mitmproxy's dispatch, as under mitmdump; the upstream call is routing's.
    assert summary.group_of(hook).startswith("mitmproxy hook dispatch")
    upstream = [*hook, "KeyRouting.request (hpn_router/addons/keyrouting.py:110)", "ClientSession._request (aiohttp/client.py:550)"]
    assert summary.group_of(upstream).startswith("router: key routing")


def test_a_wait_in_the_selector_is_idle_wherever_it_is():
    assert summary.group_of([*LEAN, "select (selectors.py:468)"]) == "idle (selector wait)"
    assert summary.group_of([*LEAN, *FRONT, "select (selectors.py:468)"]) == "idle (selector wait)"
