"""The /docs page in a real browser: Debian's Chromium, headless, driven by chromedriver.

It renders every operation of /openapi.json from files this server serves (nothing else is
loaded: the page must work offline), and "Authorize" then "Try it out" sends a request with
basic auth that the server answers. Needs `chromium` and `chromium-driver` (Debian): skipped
without them, except in CI (CI set), where .ci/run installs them. Run once, on the embedded
store: the page does not depend on the store.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
import requests
from conftest import MONGO_URI, PASSWORD, USER

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WAIT_SECONDS = 30

pytestmark = pytest.mark.skipif(bool(MONGO_URI), reason="the page does not depend on the store: "
                                                        "checked once, on the embedded store")


@pytest.fixture
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "needs Debian's chromium and chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason} (.ci/run installs them)", pytrace=False)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(driver, css: str, count: int = 1) -> list:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: (found := d.find_elements(By.CSS_SELECTOR, css)) and len(found) >= count and found)


def test_the_page_renders_every_operation_from_this_server_alone(live_server, browser):
    document = requests.get(f"{live_server}/openapi.json", timeout=10).json()
    expected = {(method.upper(), path) for path, methods in document["paths"].items()
                for method in methods}
    browser.get(f"{live_server}/docs")
    blocks = wait_for(browser, ".opblock", len(expected))
    shown = {(block.find_element("css selector", ".opblock-summary-method").text,
              block.find_element("css selector", ".opblock-summary-path").get_attribute("data-path"))
             for block in blocks}
    assert shown == expected
    assert document["info"]["version"] in browser.find_element("css selector", ".info").text
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)")
    assert loaded and all(url.startswith(live_server + "/") for url in loaded), loaded
    refused = [entry["message"] for entry in browser.get_log("browser")
               if entry["level"] == "SEVERE"]
    assert refused == []  # no script, style or request refused (the page's own policy)


def click(driver, css: str) -> object:
    """Scroll the element to the middle of the window, as a user would, and click it."""
    element = wait_for(driver, css)[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()
    return element


def test_try_it_out_sends_basic_auth(live_server, browser, client):
    problem = client.problem()
    operation = "#operations-problem-problem_get"
    browser.get(f"{live_server}/docs")
    click(browser, ".auth-wrapper .btn.authorize")
    username, password = wait_for(browser, ".auth-container input", 2)[:2]
    username.send_keys(USER)
    password.send_keys(PASSWORD)
    click(browser, ".auth-container .btn.authorize")
    click(browser, ".btn-done")
    click(browser, f"{operation} .opblock-summary-control")
    click(browser, f"{operation} .try-out__btn")
    click(browser, f"{operation} input[placeholder='uuid']").send_keys(problem["uuid"])
    click(browser, f"{operation} .execute")
    status = wait_for(browser, f"{operation} .live-responses-table tr.response .response-col_status")[0]
    assert status.text.strip() == "200"
    shown = " ".join(block.text for block in wait_for(
        browser, f"{operation} .live-responses-table .response-col_description pre"))
    assert problem["uuid"] in shown and problem["workflow"] in shown  # the body, as JSON
