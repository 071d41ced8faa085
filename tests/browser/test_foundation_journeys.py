"""Foundation journeys in a real browser (phone-sized window, Chinese UI).

Selectors use form field names and page structure, so the journeys hold in
either language.
"""

import re

from playwright.sync_api import expect

from providers.demo import DEMO_PASSWORD
from tests.factories import credit_code


def submit(page, form_selector="main form.stack"):
    page.locator(form_selector).locator("button[type=submit]").click()


def test_resident_signs_up_searches_and_opens_a_listing(page, live_server):
    page.goto(live_server + "/signup")
    page.fill("input[name=name]", "赵阿姨")
    page.fill("input[name=phone]", "13812345678")
    page.fill("input[name=password]", "a-good-password")
    page.select_option("select[name=community]", label="城里社区")
    submit(page)
    expect(page).to_have_url(re.compile(r"/catalogue"))

    page.fill("main input[name=q]", "保洁")
    page.locator("main input[name=q]").press("Enter")
    results = page.locator(".results .card")
    expect(results.first).to_be_visible()
    titles = results.locator("h3").all_inner_texts()
    assert titles and all("保洁" in t or "清洁" in t or "保洁" in t for t in titles), titles

    results.first.locator("h3 a").click()
    expect(page).to_have_url(re.compile(r"/listings/\d+"))
    expect(page.locator("h1")).to_contain_text("保洁")
    expect(page.locator("main")).to_contain_text("¥")


def test_provider_registers_and_an_official_approves_it(browser, page, live_server):
    code = credit_code(424242)
    page.goto(live_server + "/providers/register")
    page.fill("input[name=name]", "邻家助老服务社")
    page.fill("input[name=credit_code]", code)
    page.fill("input[name=legal_representative]", "钱法人")
    page.fill("input[name=contact_name]", "孙联系")
    page.fill("input[name=contact_phone]", "13711112222")
    page.locator("input[name=category_ids]").first.check()
    page.locator("input[name=community_ids]").first.check()
    page.fill("input[name=staff_name]", "孙联系")
    page.fill("input[name=staff_phone]", "13711112222")
    page.fill("input[name=password]", "provider-pass-1")
    submit(page)
    expect(page).to_have_url(re.compile(r"/provider$"))
    expect(page.locator(".badge-pending")).to_be_visible()

    official = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    official.goto(live_server + "/login")
    official.fill("input[name=phone]", "13900000001")
    official.fill("input[name=password]", DEMO_PASSWORD)
    submit(official)
    official.goto(live_server + "/official/providers")
    official.get_by_role("link", name="邻家助老服务社").click()
    official.locator("form:has(input[name=action][value=approve]) button[type=submit]").click()
    expect(official.locator(".flash").first).to_be_visible()
    # The audit trail names the official who decided.
    expect(official.locator("main table").last).to_contain_text("王科长")
    official.screenshot(path="test-artifacts/official_approved_provider.png", full_page=True)
    official.context.close()

    page.reload()
    expect(page.locator(".badge-active")).to_be_visible()
