"""Who may see the dashboard: the admin token as a bearer, a login session (the page alone, or
the data and the admin API with the page's header), its end (logout, a new admin token, its
lifetime), an open page without an admin token, and a session on every worker through Redis."""

from __future__ import annotations

import json

from dashboardtools import ADMIN, T0, M, Router, SharedRouter, config, session_of, signed_in, up
from hpn_router.addons.dashboardsessions import COOKIE
from hpn_router.core.classify import Outcome, Verdict


def test_the_admin_token_as_a_bearer_opens_the_page_and_the_data():
    router = Router()
    page = router.send("GET", "/dashboard", headers={"authorization": f"Bearer {ADMIN}"})
    assert page.response.status_code == 200 and "/dashboard/data" in page.response.text
    headers = page.response.headers
    assert headers["content-type"].startswith("text/html") and headers["cache-control"] == "no-store"
    assert "script-src 'sha256-" in headers["content-security-policy"] and "frame-ancestors 'none'" in headers["content-security-policy"]
    data = router.send("GET", "/dashboard/data", headers={"authorization": f"Bearer {ADMIN}"})
    assert data.response.status_code == 200 and json.loads(data.response.content)["admin_actions"] is True


def test_the_session_opens_the_page_alone_but_the_data_only_with_the_pages_header():
    router = Router()
    headers = signed_in(router)
    page = router.send("GET", "/dashboard", headers={"cookie": headers["cookie"]})
    assert "/dashboard/data" in page.response.text
    assert router.send("GET", "/dashboard/data", headers=headers).response.status_code == 200
    assert router.send("GET", "/dashboard/data", headers={"cookie": headers["cookie"]}).response.status_code == 401
    forged = {"cookie": f"{COOKIE}=made-up", "x-hpn-dashboard": "1"}
    assert router.send("GET", "/dashboard/data", headers=forged).response.status_code == 401


def test_the_session_calls_the_admin_api_only_with_the_pages_header():
    router = Router()
    router.state.pool.report(0, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), T0, M)
    headers = signed_in(router)
    # What a cross-site form would send: the cookie (were it not SameSite=Strict) without the header.
    refused = router.send("POST", "/admin/keys/key_1/enable", headers={"cookie": headers["cookie"]})
    assert refused.response.status_code == 401
    assert router.state.pool.disabled_reason(0) is not None
    admitted = router.send("POST", "/admin/keys/key_1/enable", headers=headers)
    assert admitted.response.status_code == 200 and json.loads(admitted.response.content)["state"] == "active"
    assert router.state.pool.disabled_reason(0) is None
    assert router.send("GET", "/admin/keys", headers={"cookie": f"{COOKIE}=made-up", "x-hpn-dashboard": "1"}).response.status_code == 401


def test_a_session_ends_with_logout_and_when_the_admin_token_changes():
    router = Router()
    headers = signed_in(router)
    out = router.send("POST", "/dashboard/logout", headers=headers)
    assert out.response.status_code == 303 and "Max-Age=0" in out.response.headers["set-cookie"]
    assert router.send("GET", "/dashboard/data", headers=headers).response.status_code == 401
    headers = signed_in(router)
    router.apply(config("a-new-admin-token-0123456789abcdef"))
    assert router.send("GET", "/dashboard/data", headers=headers).response.status_code == 401
    fresh = {"cookie": f"{COOKIE}={session_of(router.login('a-new-admin-token-0123456789abcdef'))}", "x-hpn-dashboard": "1"}
    assert router.send("GET", "/dashboard/data", headers=fresh).response.status_code == 200
    router.now += 12 * 3600  # and after its lifetime
    assert router.send("GET", "/dashboard/data", headers=fresh).response.status_code == 401


def test_without_an_admin_token_the_page_is_open_and_read_only_like_metrics():
    router = Router(admin_token="")
    page = router.send("GET", "/dashboard")
    assert "/dashboard/data" in page.response.text
    data = router.send("GET", "/dashboard/data")
    assert data.response.status_code == 200 and json.loads(data.response.content)["admin_actions"] is False
    assert router.login("anything").response.status_code == 303  # nothing to sign in to; no session
    assert "set-cookie" not in router.login("anything").response.headers
    # A session cannot exist, so the admin API stays closed (it needs the token).
    assert router.send("GET", "/admin/keys", headers={"x-hpn-dashboard": "1"}).response.status_code == 401


async def test_a_session_opened_on_one_worker_counts_on_another_until_it_signs_out_there(redis_server):
    redis_server.command("FLUSHALL")
    a, b = SharedRouter(redis_server.url), SharedRouter(redis_server.url)
    await up(a, b)
    form = {"content-type": "application/x-www-form-urlencoded"}
    login = await a.send("POST", "/dashboard/login", headers=form, body=f"token={ADMIN}".encode())
    assert login.response.status_code == 303
    page = {"cookie": f"{COOKIE}={session_of(login)}", "x-hpn-dashboard": "1"}
    assert (await b.send("GET", "/dashboard/data", headers=page)).response.status_code == 200
    assert (await b.send("POST", "/admin/keys/key_1/enable", headers=page)).response is None  # Access let it through to Admin
    assert (await b.send("POST", "/admin/keys/key_1/enable", headers={"cookie": page["cookie"]})).response.status_code == 401
    stored = redis_server.command("ZRANGE", "hpn:v1:dash:sessions", "0", "-1")
    assert session_of(login) not in stored and ADMIN not in stored
    await b.send("POST", "/dashboard/logout", headers=page)
    assert (await a.send("GET", "/dashboard/data", headers=page)).response.status_code == 401  # ended everywhere
    await a.stop()
    await b.stop()
