"""Every /ui page in headless Chromium: it loads nothing from elsewhere, every file it loads
answers 200, its stylesheet applies, and the console stays free of errors and warnings (a
refusal by the pages' content security policy would show there). Screenshots go to the test's
temporary folder. Needs `chromium` and `chromium-driver` (skipped without, except in CI, as
tests/test_docs_page.py); run once, on the embedded store: the pages do not depend on it."""
from __future__ import annotations

import os

import pytest
from conftest import MONGO_URI, PASSWORD, USER
from dashboard_browser import CHROMEDRIVER, CHROMIUM, chromium, load, screenshot
from dashboard_history import build_history, pages

pytestmark = pytest.mark.skipif(bool(MONGO_URI), reason="the pages do not depend on the store: "
                                                        "checked once, on the embedded store")
HEADER_BACKGROUND = "rgb(29, 36, 48)"  # dashboard.css: proves the stylesheet applied


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "needs Debian's chromium and chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason} (.ci/run installs them)", pytrace=False)
        pytest.skip(reason)
    with chromium(USER, PASSWORD) as driver:
        yield driver


def test_every_page_loads_cleanly_in_a_browser(live_server, client, browser, tmp_path):
    history = build_history(client)
    for name, path in pages(history).items():
        loaded = load(browser, live_server + path)
        assert loaded["console"] == [], (name, loaded["console"])
        assert loaded["styled"] == HEADER_BACKGROUND, name
        assert loaded["resources"], name  # the stylesheet at least
        for url, status in loaded["resources"]:
            assert url.startswith(live_server + "/ui/") and status in (0, 200), (name, url, status)
        assert "Orchestrator dashboard" in loaded["title"]
        screenshot(browser, tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
