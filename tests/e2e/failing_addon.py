"""Test-only addon that fails on purpose, to show that the router fails closed.

Loaded before the router, so when it raises mitmproxy skips that hook in every router addon
(all scripts are children of one ScriptLoader addon):
    mitmdump -s tests/e2e/failing_addon.py -s addons/router.py ...
    x-test-fail: request    raise in `request`: no router addon sees the request at all
"""

from __future__ import annotations

from mitmproxy import http


class Failing:
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.headers.get("x-test-fail") == "request":
            raise RuntimeError("failing addon: deliberate failure in request")


addons = [Failing()]
