"""Loading dashboard pages in headless Chromium with basic auth, for the browser test and the
screenshots of docs/ (tests/ui_screenshots.py). Needs Debian's `chromium` and
`chromium-driver`; the credentials go in an Authorization header on every request (Chrome
DevTools' Network.setExtraHTTPHeaders), as a client of the API would send them."""
from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WIDTH, HEIGHT = 1400, 900


@contextmanager
def chromium(user: str, password: str) -> Iterator[Any]:
    """A headless Chromium that sends these credentials with every request."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": f"Basic {token}"}})
        yield driver
    finally:
        driver.quit()


def load(driver: Any, url: str) -> dict[str, Any]:
    """Open a page; what it loaded, what the console said, and whether its stylesheet applied."""
    driver.get(url)
    return {
        "title": driver.title,
        "resources": driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".map(entry => [entry.name, entry.responseStatus || 0])"),
        "console": [entry for entry in driver.get_log("browser")
                    if entry["level"] in ("SEVERE", "WARNING")],
        "styled": driver.execute_script(
            "return getComputedStyle(document.querySelector('header')).backgroundColor"),
    }


def screenshot(driver: Any, path: Path) -> None:
    """The whole page, beyond the window's height, as PNG."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
            "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))
