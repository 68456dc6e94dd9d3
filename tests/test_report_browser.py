"""The HTML report in a real browser: headless Chromium renders it without console errors, the
numbers on the page are those of report.json, order data does not run, and the filter works.

Skipped only when no Chromium is installed at all (``.ci/run`` installs it); with Chromium
present, a missing chromedriver or selenium is an error, not a skip.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderbridge.migration import migrate
from orderbridge.migration.report import VerifyReport
from orderbridge.migration.report_files import attach_verify, write_reports

from .services import service_missing
from .test_reports import HOSTILE, hostile_report

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)

pytestmark = pytest.mark.slow

# The network is closed here: without these Chromium keeps trying to reach Google's services.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,1800",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if CHROMIUM is None:
        service_missing("no Chromium (apt-get install chromium chromium-driver; .ci/run installs them)")
    driver_path = shutil.which("chromedriver")
    assert driver_path, f"Chromium is installed ({CHROMIUM}) but chromedriver is not (chromium-driver)"
    profile = tempfile.mkdtemp(prefix="orderbridge-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver: Any, page: Path) -> list[dict[str, Any]]:
    """Load ``page``, wait for its ready marker (set by its script, last), return its console log."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(page.as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "body[data-ready='true']"))
    return list(driver.get_log("browser"))


def _at(data: Any, path: list[Any]) -> Any:
    for key in path:
        data = data[key]
    return data


def _check_numbers(driver: Any, data: dict[str, Any]) -> set[tuple[str, ...]]:
    """Every marked number on the page equals the report's; returns the paths seen."""
    from selenium.webdriver.common.by import By

    marked = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-key],[data-len]')).map(function (e) {"
        " return [e.getAttribute('data-key'), e.getAttribute('data-len'), e.textContent]; });"
    )
    assert marked, "no numbers marked on the page"
    seen = set()
    for key, length, text in marked:
        if key is not None:
            path = json.loads(key)
            assert text == str(_at(data, path)), (path, text)
        else:
            path = json.loads(length)
            assert text == str(len(_at(data, path))), (path, text)
        seen.add(tuple(path))
    assert driver.find_elements(By.ID, "summary")
    return seen


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run against a site that answers some 429s, verified: its report.json."""
    from orderbridge.migration.verify import verify
    from orderbridge.sandbox import Faults

    from .sites import TOKEN_PATH, Sites

    folder = tmp_path_factory.mktemp("browser-report")
    sites = Sites(40)
    try:
        faults = Faults(rate_429=0.15, retry_after=0, seed=2, exempt_paths=frozenset({TOKEN_PATH}))
        sites.new_server.faults = faults
        report = migrate(sites.source(), sites.target(), state=folder / "state.sqlite", concurrency=4)
        assert report.written == 40 and report.rate_limited > 0, report.summary()
        write_reports(report, folder / "report.json")
        sites.new_server.faults = Faults()
        result = verify(sites.source(), sites.target(), folder / "state.sqlite")
        assert attach_verify(folder / "report.json", result) is not None
    finally:
        sites.close()
    return folder / "report.json"


def test_the_report_renders_without_errors_and_its_numbers_are_report_json(
    browser: Any, migrated: Path
) -> None:
    data = json.loads(migrated.read_text())
    page = migrated.with_name(data["files"]["html"])
    errors = [entry for entry in _open(browser, page) if entry.get("level") == "SEVERE"]
    assert errors == [], errors
    seen = _check_numbers(browser, data)
    assert {("counts", name) for name in data["counts"]} <= seen
    assert {("retries",), ("rate_limited",), ("verify", "checked")} <= seen
    assert data["rate_limited"] > 0 and data["verify"]["ok"] is True
    # The chart is drawn: one line per series.
    lines = browser.execute_script("return document.querySelectorAll('#chart polyline').length")
    assert lines == 3


def test_order_data_on_the_page_is_text_and_never_runs(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    report = hostile_report()
    files = write_reports(report, tmp_path / "report.json")
    attach_verify(
        tmp_path / "report.json",
        VerifyReport(source="a", target="b", checked=1, missing=[HOSTILE], extra=[HOSTILE]),
    )
    data = json.loads(files.json.read_text())
    errors = [entry for entry in _open(browser, files.html) if entry.get("level") == "SEVERE"]
    assert errors == [], errors
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert HOSTILE in browser.find_element(By.ID, "failures").text
    assert HOSTILE in browser.find_element(By.ID, "references").text
    seen = _check_numbers(browser, data)
    assert ("unresolved_references", "status", HOSTILE) in seen
    # The filter: one kind shows its rows only; text narrows further.
    rows = browser.find_elements(By.CSS_SELECTOR, "#failure-rows tr")
    assert len(rows) == 2 and browser.find_element(By.ID, "failures-shown").text == "2"
    Select(browser.find_element(By.ID, "failure-kind")).select_by_value("unresolved-reference")
    visible = [row for row in rows if row.is_displayed()]
    assert [row.get_attribute("data-kind") for row in visible] == ["unresolved-reference"]
    assert browser.find_element(By.ID, "failures-shown").text == "1"
    Select(browser.find_element(By.ID, "failure-kind")).select_by_value("")
    browser.find_element(By.ID, "failure-text").send_keys("pwned")
    assert [row.get_attribute("data-kind") for row in rows if row.is_displayed()] == ["rejected"]
