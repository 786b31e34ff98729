"""/docs works offline: Swagger UI is served by the API (vendored swagger-ui-dist), not fetched from a CDN."""

from __future__ import annotations

import pytest

from tests.web.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.es, pytest.mark.spark]


def test_docs_render_the_operations_with_the_network_blocked(page, web_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Everything but the API itself is blocked, as on a machine without internet.
    page.execute_cdp_cmd("Network.enable", {})
    page.execute_cdp_cmd(
        "Network.setBlockedURLs", {"urls": ["https://*", "*jsdelivr*", "*unpkg*", "*cdn*", "*tiangolo*"]}
    )
    try:
        page.get(f"{web_server}/docs")
        WebDriverWait(page, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        paths = {el.text.replace("\u200b", "") for el in page.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert "/movies/search" in paths and "/users/{user_id}/recommendations" in paths
        loaded = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(web_server) for url in loaded), loaded
        shot(page, "docs-offline")
    finally:
        page.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
