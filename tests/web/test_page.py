"""The page at `/` in headless Debian chromium, against the API over the real indexed sample."""

from __future__ import annotations

import pytest

from tests.web.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.es, pytest.mark.spark]
WAIT = 30


def wait(driver, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def ready(driver):
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def rec_titles(driver, list_id: str = "recs") -> list[str]:
    return [li.find_element("css selector", "a").text for li in css(driver, f"#{list_id} li")]


def test_a_misspelt_title_is_suggested_picked_by_keyboard_and_recommended(page, web_server):
    from selenium.webdriver.common.keys import Keys

    page.get(f"{web_server}/")
    ready(page)
    box = by_id(page, "q")
    box.send_keys("toy stroy")
    # The list answers the whole text (not a prefix typed on the way), under "Did you mean".
    wait(page, lambda d: by_id(d, "suggestions").get_attribute("data-query") == "toy stroy")
    assert "Did you mean" in by_id(page, "suggestions").text
    assert any("Toy Story" in o.text for o in css(page, "#suggestions [role=option]"))
    assert box.get_attribute("aria-expanded") == "true"
    box.send_keys(Keys.ARROW_DOWN)
    assert box.get_attribute("aria-activedescendant") == "sug-0"
    first = css(page, "#suggestions [role=option]")[0]
    assert "Toy Story" in first.text and first.get_attribute("aria-selected") == "true"
    box.send_keys(Keys.ENTER)
    wait(page, lambda d: by_id(d, "movie-title").text.startswith("Toy Story (1995)"))
    wait(page, lambda d: len(css(d, "#recs li")) >= 5)
    assert "movie=1" in page.current_url
    assert "Toy Story (1995)" not in rec_titles(page)
    shot(page, "1-typo-suggestion-recommendations")


def test_the_typod_deep_link_opens_toy_story_and_modes_and_links_change_the_page(page, web_server):
    page.get(f"{web_server}/?title=toy%20stroy")
    ready(page)
    wait(page, lambda d: by_id(d, "movie-title").text == "Toy Story (1995)")
    wait(page, lambda d: len(css(d, "#recs li")) >= 5)
    audience = rec_titles(page)
    assert by_id(page, "recs-heading").text == "People who liked this also liked"
    shot(page, "2-deep-link-toy-stroy")

    css(page, "input[name=mode][value=similar]")[0].click()
    wait(page, lambda d: by_id(d, "recs-heading").text == "Similar movies")
    wait(page, lambda d: len(css(d, "#recs li")) >= 5 and rec_titles(d) != audience)
    assert "mode=similar" in page.current_url and "movie=1" in page.current_url

    # Filters: a genre and a year range, kept in the URL.
    from selenium.webdriver.support.ui import Select

    Select(by_id(page, "genre")).select_by_value("Animation")
    by_id(page, "year-min").send_keys("1990")
    by_id(page, "year-max").send_keys("2005")
    css(page, "#rec-controls button[type=submit]")[0].click()
    wait(page, lambda d: "genre=Animation" in d.current_url and "year_min=1990" in d.current_url)
    wait(page, lambda d: len(css(d, "#recs li")) >= 3)
    for li in css(page, "#recs li"):
        assert "Animation" in li.find_element("css selector", ".meta").text

    # Each result links to its own page state.
    link = css(page, "#recs li a")[0]
    href, title = link.get_attribute("href"), link.text
    assert "movie=" in href
    link.click()
    wait(page, lambda d: by_id(d, "movie-title").text == title)
    page.back()
    wait(page, lambda d: by_id(d, "movie-title").text == "Toy Story (1995)")


def test_a_new_user_rates_three_movies_and_the_personal_list_changes(page, web_server):
    page.get(f"{web_server}/")
    ready(page)
    by_id(page, "new-user").click()
    wait(page, lambda d: by_id(d, "you-id").text.isdigit())
    user_id = int(by_id(page, "you-id").text)
    assert user_id >= 1_000_000_000
    wait(page, lambda d: "no ratings in the model yet" in by_id(d, "you-reason").text)
    wait(page, lambda d: len(css(d, "#you-recs li")) == 8)
    popular = rec_titles(page, "you-recs")
    shot(page, "3-new-user-popular-fallback")

    lists = [popular]
    for title, stars in (("the matrix", 5), ("star wars", 5), ("terminator 2", 4)):
        page.get(f"{web_server}/?title={title}")
        ready(page)
        wait(page, lambda d: not by_id(d, "rate").get_attribute("hidden") and len(css(d, "#stars button")) == 5)
        css(page, f"#stars button[data-stars='{stars}']")[0].click()
        wait(page, lambda d: by_id(d, "rate-status").text.startswith("Saved"))
        wait(page, lambda d: by_id(d, "you-reason").text == "" and len(css(d, "#you-recs li")) == 8)
        lists.append(rec_titles(page, "you-recs"))
    assert by_id(page, "you-id").text == str(user_id)
    assert lists[-1] != popular and lists[1] != popular
    assert "3 movies" in by_id(page, "you-rated").text
    shot(page, "4-new-user-after-three-ratings")

    # Consent can be withdrawn from the page: the list falls back to popular movies, with the reason.
    by_id(page, "consent").click()
    wait(page, lambda d: "no consent to personalisation" in by_id(d, "you-reason").text)
    by_id(page, "consent").click()
    wait(page, lambda d: by_id(d, "you-reason").text == "")


def test_user_deep_link_opens_that_users_view(page, web_server):
    page.get(f"{web_server}/?user=1")
    ready(page)
    wait(page, lambda d: by_id(d, "you-id").text == "1")
    wait(page, lambda d: len(css(d, "#you-recs li")) == 8)
    assert by_id(page, "you-reason").text == ""


def test_explore_view_draws_the_key_charts_with_titles_on_hover(page, web_server):
    page.get(f"{web_server}/?view=explore")
    ready(page)
    wait(page, lambda d: len(css(d, ".chart-box svg")) == 5, timeout=60)
    points = css(page, ".chart-box[data-chart=embedding] circle.point")
    assert len(points) >= 1000
    titles = page.execute_script("return [...document.querySelectorAll('circle.point title')].map(t => t.textContent)")
    assert any(t.startswith("Toy Story (1995)") for t in titles)
    assert all(c.text for c in css(page, "figcaption"))
    shot(page, "5-explore")


def test_phone_sized_window_has_no_horizontal_scroll_and_keyboard_reaches_the_search(page, web_server):
    from selenium.webdriver.common.keys import Keys

    # A phone's viewport (headless chromium keeps windows at least 500 px wide, so emulate the device).
    metrics = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    page.get(f"{web_server}/?title=toy%20stroy")
    ready(page)
    wait(page, lambda d: len(css(d, "#recs li")) >= 5)
    assert page.execute_script("return window.innerWidth") == 390
    assert page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "6-phone")
    from selenium.webdriver.common.action_chains import ActionChains

    page.execute_script("document.activeElement && document.activeElement.blur(); window.focus()")
    order = []
    for _ in range(5):
        ActionChains(page).send_keys(Keys.TAB).perform()
        order.append(page.execute_script("return document.activeElement.id"))
    # Focus order: skip link, home, the two views, then the search box.
    page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert order == ["skip", "home", "nav-search", "nav-explore", "q"], order
