"""The shell in a real browser: Chinese by default, English and large text on request."""

from playwright.sync_api import expect


def test_home_is_chinese_by_default_and_switches_language_and_text_size(page, live_server):
    page.goto(live_server + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="English")).to_be_visible()

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Services for your neighbourhood")

    page.get_by_role("button", name="Large text").click()
    expect(page.locator("body")).to_have_class("large-text")
    expect(page.locator("html")).to_have_class("large-text")  # the root grows, so every rem does
    # The page reloads with the class; wait until its stylesheet has applied too.
    page.wait_for_load_state("load")
    font_size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_size >= 22


def test_no_asset_is_loaded_from_another_host(page, live_server):
    hosts = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")
    assert hosts == {live_server.split("/")[2]}


def test_the_page_links_its_icon_and_the_browser_gets_it(page, live_server):
    page.goto(live_server + "/")
    icon = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
    answer = page.request.get(live_server + icon)
    assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert page.request.get(live_server + "/favicon.ico").ok


def test_a_protected_page_sends_a_visitor_to_log_in_with_a_message_in_chinese(page, live_server):
    page.goto(live_server + "/account")
    expect(page).to_have_url(live_server + "/login?next=%2Faccount")
    expect(page.locator(".flash-info")).to_have_text("请先登录，再查看这个页面。")
