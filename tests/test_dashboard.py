"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

A server with a token runs; the page loads without it and asks for it once.
Observations and learn batches are posted while the page is open, and the
test waits (bounded) until the page shows them: the number of points on the
charts (the canvases' ``data-points``) and the model's step count.  Every
``/v1`` call the page makes carries the token.  A screenshot is written to
the test's temporary folder (``DASHBOARD_SCREENSHOT=path`` also writes one
there, as docs/dashboard.png was made).

Without Chromium this test fails, saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from _server import Server
from test_service_models import ADAM, body, notes_batches

CHROMIUM = os.environ.get("STREAMOPT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
#: Seconds the page may take to show what was posted (it polls once a second).
WAIT = 60.0


def _browser(playwright):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the dashboard test needs Chromium, not found at {CHROMIUM}: install Debian's package "
                    "(sudo apt-get install chromium) or set STREAMOPT_CHROMIUM to a Chromium binary", pytrace=False)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def _wait(page, what: str, check, server: Server) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        value = check()
        if value:
            return
        if time.monotonic() > deadline:
            status = page.text_content("#status")
            raise AssertionError(f"the page did not show {what} within {WAIT} s (status: {status!r}); "
                                 f"server log:\n{server.log()}")
        page.wait_for_timeout(100)


def _points(page, canvas: str) -> int:
    value = page.get_attribute(canvas, "data-points") if page.query_selector(canvas) else None
    return int(value) if value else 0


def test_dashboard_shows_streams_and_models_live(tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the dashboard test needs Playwright's Python package: pip install 'streamopt[test]' "
                    "(or pip install playwright); the browser is Debian's chromium", pytrace=False)
    rng = np.random.default_rng(5)
    with Server(tmp_path / "d.db", token="d4shb0ard") as server, sync_playwright() as pw:
        with server.client() as c:
            r = c.put("/v1/streams/temperature", json={"halflife": "2h", "stats": ["mean", "std"]})
            assert r.status_code == 201
            assert c.put("/v1/models/moons", json=ADAM).status_code == 201
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            calls: list[tuple[str, str | None]] = []
            page.on("request", lambda r: calls.append((r.url, r.headers.get("authorization"))))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")
            page.wait_for_selector("#login:not([hidden])", timeout=WAIT * 1000)  # loaded without the token
            page.fill("#token", server.token)
            page.click("#login button")
            page.wait_for_selector("#streams a[data-name='temperature']", timeout=WAIT * 1000)
            page.wait_for_selector("#models a[data-name='moons']", timeout=WAIT * 1000)

            # a stream: observations arrive while the page watches
            page.click("#streams a[data-name='temperature']")
            start = np.datetime64("2026-12-01T00:00:00", "ns").astype(np.int64).item()
            hour = 3600 * 10**9
            sent = 0
            with server.client() as c:
                for batch in range(4):
                    values = (10 + 3 * np.sin(np.arange(sent, sent + 30) / 8) + rng.normal(0, 0.8, 30)).tolist()
                    times = [start + (sent + i) * hour for i in range(30)]
                    r = c.post("/v1/streams/temperature/observations",
                               json={"producer": "sensor", "seq": batch + 1, "keys": ["seattle"] * 30,
                                     "values": values, "times": times})
                    assert r.status_code == 200, r.text
                    sent += 30
                    _wait(page, f"{sent} observations", lambda: _points(page, "#chart-stream") == sent, server)
            assert page.text_content("#fact-observations") == str(sent)
            page.screenshot(path=str(tmp_path / "dashboard-stream.png"), full_page=True)
            assert page.input_value("#key") == "seattle"

            # a model: learn batches arrive while the page watches
            page.click("#models a[data-name='moons']")
            batches = notes_batches(8)
            with server.client() as c:
                for step, (xb, yb) in enumerate(batches, start=1):
                    assert c.post("/v1/models/moons/learn", json=body(xb, yb, "trainer", step)).status_code == 200
                    if step % 10 == 0:
                        _wait(page, f"step {step}", lambda: page.text_content("#fact-step") == str(step), server)
            n = len(batches)
            _wait(page, f"{n} points", lambda: _points(page, "#chart-loss") == n == _points(page, "#chart-accuracy"),
                  server)
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            if os.environ.get("DASHBOARD_SCREENSHOT"):
                page.screenshot(path=os.environ["DASHBOARD_SCREENSHOT"], full_page=True)

            # the token was asked for once: a reload keeps it for the session
            page.reload()
            page.wait_for_selector("#models a[data-name='moons']", timeout=WAIT * 1000)
            _wait(page, "the model after a reload", lambda: page.text_content("#fact-step") == str(n), server)
            assert page.is_hidden("#login")
            assert page.evaluate("document.body.dataset.prompts || '0'") == "0"  # not asked again after the reload
        finally:
            browser.close()
    assert not errors, errors
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    api = [(url, auth) for url, auth in calls if "/v1/" in url]
    first = next(i for i, (_, auth) in enumerate(api) if auth)  # the calls before the token was given
    assert all(auth is None for _, auth in api[:first]) and first >= 1
    assert api[first:] and all(auth == f"Bearer {server.token}" for _, auth in api[first:]), api[first:][:3]
    assets = [url for url, _ in calls if "/dashboard/" in url or url.endswith(":%d/" % server.port)]
    assert len(assets) >= 3  # the page, its script and style sheet: loaded without the token
