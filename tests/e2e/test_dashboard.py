"""Issue 13's dashboard in a real browser: Debian's chromium (/usr/bin/chromium, which
`./run.sh test` installs), driven by Playwright's Python API with `executable_path` (Playwright's
own browser download is never used), against a real mitmdump with the router and the Gemini
emulator. It signs in through the form, drives a failover (key_1 scripted to 429), and asserts
what the page shows: the key states, the failover in the list, the charts drawn, the live update
of a second failover, and the re-enable button. The screenshot is kept in tests/artifacts/.
With HPN_TEST_WORKERS=2 the browser's requests land on either worker: the page must be whole
(one history, one session) whichever answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from procs import KEYS, Emulator, Router, client_for, scenario, start_emulator

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # the page talks to the router on loopback only, whatever the environment's proxy
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ADMIN = "dashboard-e2e-admin-token-0123456789"
MSG = [{"role": "user", "content": "Hello dashboard"}]
LIVE = 10_000  # ms: the page polls every second; a generous bound for a loaded machine, not a timing claim


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The emulator with 429s that ask for five minutes (RetryInfo): a key stays cooling while
    the browser starts and signs in (the default two seconds would be over by then)."""
    plan = scenario()
    plan["keys"] = [{**key, "retry_delay": "300s"} for key in plan["keys"]]
    emu = start_emulator(plan, tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


def chat(router: Router, text: str) -> None:
    client_for(router).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": text}])


def row(page: Page, key: str):
    return page.locator(f'#keys tr[data-key="{key}"]')


@pytest.mark.e2e
def test_the_dashboard_shows_keys_failovers_and_charts_live_and_re_enables_a_key(make_router, emulator):
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium (./run.sh test installs it)"
    router = make_router(config={"server": {"admin_token": ADMIN}})
    emulator.set_key(0, "rate_limit")
    chat(router, "first")  # key_1 answers 429, key_2 answers: one failover
    chat(router, "second")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(router.url + "/dashboard")
            expect(page.locator("form#login")).to_be_visible()  # not signed in: the login form

            page.fill("#token", "a-wrong-token")
            page.click("button[type=submit]")
            expect(page.locator("#message")).to_have_text("Wrong admin token.")
            page.fill("#token", ADMIN)
            page.click("button[type=submit]")
            expect(page).to_have_url(re.compile(r"/dashboard$"))
            errors.clear()  # the wrong token's 401; from here on the page must log no error
            cookie = next(c for c in page.context.cookies() if c["name"] == "hpn_dashboard")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and ADMIN not in cookie["value"]

            # Key states, with the cooling key's countdown.
            expect(row(page, "key_1")).to_have_attribute("data-state", "cooling", timeout=LIVE)
            expect(row(page, "key_1").locator(".state")).to_have_text("cooling")
            expect(row(page, "key_1").locator("td.until")).to_have_text(re.compile(r"\d+s$"))
            expect(row(page, "key_1").locator("td.error")).to_contain_text("rate_limited 429")
            expect(row(page, "key_2")).to_have_attribute("data-state", "active")
            expect(row(page, "key_3")).to_have_attribute("data-state", "active")
            expect(page.locator("#keys tr")).to_have_count(3)
            # The failover in the list, and the transition.
            expect(page.locator('#events li[data-kind="failover"]').first).to_contain_text("key_1 \u2192 key_2")
            expect(page.locator('#events li[data-kind="key.cooling"]').first).to_contain_text("key_1")
            # The charts: one path per series, 60 points each, the requests' one above zero.
            requests = page.locator('#chart-requests path[data-series="requests"]')
            expect(requests).to_have_attribute("data-max", re.compile(r"^[12]$"))  # two requests, in one minute or two
            assert len(re.findall(r"[ML]", requests.get_attribute("d") or "")) == 60
            assert page.locator("svg.chart path.series").count() == 7
            expect(page.locator("#t-requests")).to_have_text("2")

            # Live: a second failover shows without a reload.
            emulator.set_key(1, "rate_limit")
            # key_2 answers 429 (key_1 is cooling), key_3 answers. Which key a router tries first is
            # its own rotation (each worker has one), so ask until key_2 was tried (bounded).
            sent = 2
            for attempt in range(6):
                chat(router, f"third {attempt}")
                sent += 1
                if any(r["key_index"] == 1 and r["status"] == 429 for r in emulator.stats()["requests"]):
                    break
            expect(row(page, "key_2")).to_have_attribute("data-state", "cooling", timeout=LIVE)
            expect(page.locator('#events li[data-kind="failover"]').first).to_contain_text("key_2 \u2192 key_3", timeout=LIVE)
            expect(page.locator("#t-requests")).to_have_text(str(sent), timeout=LIVE)

            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\ndashboard screenshot: {shot}")

            # Re-enable from the page: the session's cookie and the page's header reach the admin API.
            row(page, "key_1").locator("button.enable").click()
            expect(row(page, "key_1")).to_have_attribute("data-state", "active", timeout=LIVE)
            expect(row(page, "key_1").locator("button.enable")).to_have_count(0)

            html, data = page.content(), page.request.get(router.url + "/dashboard/data", headers={"X-HPN-Dashboard": "1"}).text()
            assert errors == []
        finally:
            browser.close()
    for key in KEYS[:3]:  # no key value, nor a piece of one, on the page or in its data
        assert all(key[i : i + 12] not in html + data for i in range(len(key) - 11))
