"""The dashboard's endpoints: the login form (its cookie, a wrong token, the throttle), the
page and the data refused without a sign-in, the paths' methods, and that no key value reaches
the page or the data."""

from __future__ import annotations

import json

from dashboardtools import ADMIN, FAILOVER, KEY_VALUES, T0, M, Router, answered_chat, signed_in
from hpn_router.addons.dashboardsessions import COOKIE
from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict


def test_without_a_sign_in_the_page_is_the_login_form_and_the_data_is_refused():
    router = Router()
    page = router.send("GET", "/dashboard")
    assert page.response.status_code == 200 and 'action="/dashboard/login"' in page.response.text
    assert "/dashboard/data" not in page.response.text
    data = router.send("GET", "/dashboard/data")
    assert data.response.status_code == 401
    assert json.loads(data.response.content)["error"]["code"] == "invalid_api_key"  # OpenAI's envelope
    wrong = router.send("GET", "/dashboard/data", headers={"authorization": "Bearer not-the-token"})
    assert wrong.response.status_code == 401


def test_the_login_form_sets_a_random_httponly_strict_session_cookie_and_keeps_no_token_in_the_flow():
    router = Router()
    flow = router.login()
    assert flow.response.status_code == 303 and flow.response.headers["location"] == "/dashboard"
    cookie = flow.response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert ADMIN not in cookie and ADMIN[:12] not in cookie
    assert ADMIN.encode() not in flow.request.content  # mitmweb and -w see the flow
    assert router.login().response.headers["set-cookie"] != cookie  # a new random id per login


def test_a_wrong_token_at_the_login_form_gets_the_form_again_with_401():
    router = Router()
    flow = router.login("guess")
    assert flow.response.status_code == 401 and "Wrong admin token." in flow.response.text
    assert "set-cookie" not in flow.response.headers
    empty = router.send("POST", "/dashboard/login")
    assert empty.response.status_code == 401


def test_after_ten_wrong_tokens_in_a_minute_even_the_right_one_waits_but_the_bearer_does_not():
    router = Router()
    for _ in range(10):
        assert router.login("guess").response.status_code == 401
    throttled = router.login()
    assert throttled.response.status_code == 429 and throttled.response.headers["retry-after"] == "60"
    assert "Too many wrong tokens" in throttled.response.text and "set-cookie" not in throttled.response.headers
    assert router.send("GET", "/dashboard/data", headers={"authorization": f"Bearer {ADMIN}"}).response.status_code == 200
    router.now += 60
    assert router.login().response.status_code == 303


def test_dashboard_paths_need_no_client_token_and_wrong_methods_get_405():
    router = Router()
    cfg = parse_config(
        {"server": {"admin_token": ADMIN, "client_tokens": ["sk-client-0123456789abcdef"]}, "key_pool": {"state_file": ""}},
        {"HPN_API_KEYS": KEY_VALUES[0]},
    )
    router.apply(cfg)
    assert router.send("GET", "/dashboard").response.status_code == 200
    assert router.send("GET", "/dashboard/login").response.status_code == 405
    assert router.send("DELETE", "/dashboard/data").response.status_code == 405


def test_no_key_value_nor_a_piece_of_one_reaches_the_page_or_the_data():
    router = Router()
    router.state.pool.report(1, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), T0, M)
    router.dashboard.response(answered_chat(FAILOVER))
    headers = signed_in(router)
    text = (
        router.send("GET", "/dashboard", headers=headers).response.text
        + router.send("GET", "/dashboard/data", headers=headers).response.text
    )
    for value in KEY_VALUES:
        assert all(value[i : i + 10] not in text for i in range(len(value) - 9))
    assert ADMIN[:10] not in text
