"""One API server (uvicorn, its own process) and one headless Debian chromium for the browser tests.

Chromium and chromedriver come from Debian's packages (`make test` installs them as root); nothing is
downloaded: Selenium is pointed at /usr/bin/chromedriver and /usr/bin/chromium, so Selenium Manager
never runs. Screenshots go to test-output/browser/ in the checkout, for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("MOVIEREC_TEST_OUTPUT", REPO / "test-output")) / "browser"
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def web_server(indexed, tmp_path_factory):
    """The API over the session's indexed data, in a process of its own (settings from its environment)."""
    port = _free_port()
    env = {
        **os.environ,
        "ES_URL": indexed.es_url,
        "MOVIEREC_INDEX_PREFIX": indexed.index_prefix,
        "MOVIEREC_API_KEY": "",
        "MOVIEREC_RUNS_DIR": str(tmp_path_factory.mktemp("web-runs")),
    }
    log = tmp_path_factory.mktemp("web") / "uvicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "movierec.service.main:app", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"uvicorn exited: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"the API did not answer /health within 90 s: {log.read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed "
            "(`make test` installs them when run as root: apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    print(f"\nbrowser screenshots: {SCREENSHOTS}")


@pytest.fixture
def page(browser, web_server):
    """A fresh page state: no remembered user, desktop window size."""
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.set_window_size(1280, 1000)
    browser.get(f"{web_server}/static/app.css")
    browser.delete_all_cookies()
    browser.execute_script("window.localStorage.clear()")
    return browser


def shot(driver, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
