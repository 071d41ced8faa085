"""The shell every page shares, on a phone (390x844) and a desktop (1280x900): a compact header
whose menu waits behind a button on the phone, tables read as cards on a narrow screen, large
text that enlarges every text, every problem of a refused form at once with the focus on the
first field at fault, and a refused form's page that a reload asks for afresh (no second POST).

Screenshots: ``test-artifacts/i14-shell-<what>-phone.png`` / ``-desktop.png``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import log_in

PHONE, DESKTOP = (390, 844), (1280, 900)
SIZES = {"phone": PHONE, "desktop": DESKTOP}
ROLES = {"visitor": None, "resident": "13800000001", "provider": "13700000001", "official": "13900000001"}


def window(browser, size: str, **options):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", **options)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def shot(page, what: str, size: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i14-shell-{what}-{size}.png"), full_page=full_page)


def main_top(page) -> float:
    return page.evaluate("document.querySelector('main').getBoundingClientRect().top")


# --- 1. the header ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", ROLES)
def test_the_page_starts_in_the_top_third_of_the_first_screen(browser, live_server, role, size):
    context, page = window(browser, size)
    try:
        if ROLES[role]:
            log_in(page, live_server, ROLES[role])
        page.goto(live_server + "/")  # each role's own start page
        page.wait_for_load_state("load")
        top = main_top(page)
        print(f"{role} {size}: <main> starts at {top:.0f} px of {SIZES[size][1]}")
        assert top < SIZES[size][1] / 3, f"{role}: the header takes {top:.0f} px"
        assert_accessible(page, f"{role} start page, {size}")
        shot(page, f"header-{role}", size)
        nav = page.locator("#main-nav")
        links = nav.locator("a")
        assert links.count() >= 3
        if not ROLES[role]:
            expect(links.first).to_be_visible()  # a visitor's few links are always shown
            expect(page.locator("[data-menu]")).to_have_count(0)
            return
        expect(page.locator("#nav-notifications")).to_be_visible()
        button = page.locator("summary.menu-button")
        if size == "desktop":
            expect(button).to_be_hidden()
            expect(links.first).to_be_visible()
            expect(links.last).to_be_visible()
            return
        # On the phone the pages wait behind the menu button, which has a name.
        expect(button).to_be_visible()
        expect(button).to_have_accessible_name("菜单")
        expect(links.first).to_be_hidden()
        button.click()
        for i in range(links.count()):
            expect(links.nth(i)).to_be_visible()
        expect(nav.locator("form[action='/logout'] button")).to_be_visible()
        assert_accessible(page, f"{role} start page, menu open")
        shot(page, f"menu-{role}", size)
        page.keyboard.press("Escape")
        expect(links.first).to_be_hidden()
        expect(button).to_be_focused()
        # A link in the menu takes the person there.
        button.click()
        nav.locator("a[href='/account']").click()
        expect(page).to_have_url(live_server + "/account")
        expect(links.first).to_be_hidden()
    finally:
        context.close()


def test_the_menu_opens_without_javascript(browser, live_server):
    context, page = window(browser, "phone", java_script_enabled=False)
    try:
        page.goto(live_server + "/login")
        page.fill("input[name=phone]", ROLES["provider"])
        page.fill("input[name=password]", "linli-demo")
        page.locator("main form.stack button[type=submit]").click()
        expect(page.locator("#nav-notifications")).to_be_visible()
        assert main_top(page) < PHONE[1] / 3
        links = page.locator("#main-nav a")
        expect(links.first).to_be_hidden()
        page.locator("summary.menu-button").click()
        expect(page.locator("#main-nav a[href='/provider/today']")).to_be_visible()
        shot(page, "menu-without-javascript", "phone")
        page.locator("#main-nav a[href='/provider/today']").click()
        expect(page).to_have_url(live_server + "/provider/today")
    finally:
        context.close()


# --- 2. tables as cards -----------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_table_reads_as_cards_on_a_phone_and_stays_a_table_on_a_desktop(browser, live_server, size):
    context, page = window(browser, size)
    try:
        log_in(page, live_server, ROLES["official"])
        page.goto(live_server + "/official/providers?status=active")
        table = page.locator("main table").first
        expect(table).to_be_visible()
        first_row = table.locator("tbody tr").first
        cell = first_row.locator("td").first
        heading = table.locator("thead th").first.inner_text().strip()
        expect(cell).to_have_attribute("data-label", heading)
        shot(page, "table", size, full_page=True)
        assert_accessible(page, f"official list, {size}")
        display = page.evaluate("([r, c]) => [getComputedStyle(r).display, getComputedStyle(c).display]",
                                [first_row.element_handle(), cell.element_handle()])
        widths = [box["width"] for box in (c.bounding_box() for c in first_row.locator("td").all())]
        if size == "phone":
            assert display == ["block", "block"]
            label = page.evaluate("c => getComputedStyle(c, '::before').content", cell.element_handle())
            assert label == f'"{heading}："'  # (a Chinese page: a full-width colon)
            # Every cell takes the card's width: a name no longer wraps one character a line.
            assert min(widths) > 300, widths
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
            assert table.locator("thead").bounding_box()["height"] <= 1
        else:
            assert display == ["table-row", "table-cell"]
            expect(table.locator("thead th").first).to_be_visible()
            assert page.evaluate("c => getComputedStyle(c, '::before').content", cell.element_handle()) == "none"
    finally:
        context.close()


# --- 3. large text ------------------------------------------------------------------------------

MEASURED = {
    "h1": "main h1",
    "hint": "main .hint",
    "meta": "main .meta",
    "footer": "footer.site-footer p",
    "button": "main form.stack button[type=submit]",
    "slot time": "main .slot-time",
    "nav": "#nav-notifications",
}
BODY_TEXT = ("lead", "hint", "meta", "footer", "slot time")


def sizes_of(page, selectors: dict[str, str]) -> dict[str, float]:
    return page.evaluate("""(selectors) => Object.fromEntries(Object.entries(selectors).map(([k, s]) => {
        const found = document.querySelector(s);
        return [k, found ? parseFloat(getComputedStyle(found).fontSize) : null];
    }))""", selectors)


def one_line(page, selector: str) -> bool:
    """The element's text is on one line (its height is about one line's)."""
    return page.evaluate("""(s) => [...document.querySelectorAll(s)].slice(0, 6).every(e => {
        const style = getComputedStyle(e);
        const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6;
        const range = document.createRange(); range.selectNodeContents(e);
        const rects = [...range.getClientRects()].filter(r => r.width > 0);
        const tops = new Set(rects.map(r => Math.round(r.top / (line / 2))));
        return tops.size <= 1 || e.getBoundingClientRect().height < line * 1.9;
    })""", selector)


@pytest.mark.parametrize("size", SIZES)
def test_large_text_enlarges_every_text(browser, live_server, size):
    context, page = window(browser, size)
    try:
        log_in(page, live_server, ROLES["resident"])
        page.goto(live_server + "/catalogue")
        page.locator(".results .card h3 a").first.click()
        page.wait_for_load_state("load")  # its stylesheets applied before anything is measured
        listing = page.url
        standard = sizes_of(page, {"lead": "main .lead"})  # the listing's provider line
        page.locator("main a[href$='/book']").first.click()
        page.wait_for_load_state("load")
        assert urlsplit(page.url).path.endswith("/book")
        book = page.url
        standard.update(sizes_of(page, MEASURED))
        page.goto(live_server + "/bookings")
        standard["badge"] = sizes_of(page, {"badge": "main .badge"})["badge"]
        assert None not in standard.values(), standard

        page.get_by_role("button", name="大字模式").click()
        page.wait_for_load_state("load")
        expect(page.locator("html")).to_have_class("large-text")
        large = {"badge": sizes_of(page, {"badge": "main .badge"})["badge"]}
        assert one_line(page, "main .badge")
        shot(page, "large-text-bookings", size)
        page.goto(listing)
        large.update(sizes_of(page, {"lead": "main .lead"}))
        page.goto(book)
        large.update(sizes_of(page, MEASURED))
        print(f"{size}: standard {standard}\n{size}: large {large}")
        for name, before in standard.items():
            assert large[name] >= before * 1.2, f"{name}: {before} px → {large[name]} px"
            if name in BODY_TEXT:
                assert large[name] >= 20, f"{name}: {large[name]} px in large text"
        assert one_line(page, "main form.stack button[type=submit]")
        assert page.evaluate("""() => [...document.querySelectorAll('main .slot-clock')].slice(0, 8).every(time => {
            const range = document.createRange(); range.selectNodeContents(time);
            return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size === 1;
        })"""), "a slot's time is cut over two lines"
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size][0]
        assert_accessible(page, f"booking page in large text, {size}")
        shot(page, "large-text", size, full_page=True)
        page.get_by_role("button", name="标准字号").click()
        page.wait_for_load_state("load")
        expect(page.locator("html")).not_to_have_class("large-text")
    finally:
        context.close()


# --- 7. every problem at once -------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_sign_up_lists_every_problem_and_focuses_the_first_field(browser, live_server, size):
    context, page = window(browser, size)
    try:
        page.goto(live_server + "/signup")
        page.fill("input[name=phone]", "12345")
        page.fill("input[name=password]", "short")
        page.locator("main form.stack button[type=submit]").click()
        summary = page.locator("[data-error-summary]")
        expect(summary).to_be_visible()
        items = summary.locator("li")
        expect(items).to_have_count(4)  # no name, a bad phone, a short password, no community
        hrefs = [items.nth(i).locator("a").get_attribute("href") for i in range(4)]
        assert hrefs == ["#name", "#phone", "#password", "#community"]
        assert page.evaluate("document.activeElement.id") == "name"
        for field in ("name", "phone", "password", "community"):
            expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        assert_accessible(page, f"refused sign-up, {size}")
        shot(page, "error-summary", size)
    finally:
        context.close()


# --- 5. a reload after a refused POST ----------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_reloading_a_refused_form_asks_for_the_blank_form_and_sends_nothing_again(browser, live_server, size):
    context, page = window(browser, size)
    sent = []
    page.on("request", lambda r: sent.append((r.method, urlsplit(r.url).path))
            if r.resource_type == "document" else None)
    try:
        page.goto(live_server + "/login")
        page.fill("input[name=phone]", ROLES["resident"])
        page.locator("main form.stack button[type=submit]").click()  # no password
        expect(page.locator("[data-error-summary]")).to_be_visible()
        assert page.evaluate("document.body.hasAttribute('data-answers-post')")
        shot(page, "refused-post", size)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.reload()
        page.wait_for_load_state("load")
        assert sent == [("GET", "/login"), ("POST", "/login"), ("GET", "/login")], sent
        assert not dialogs
        expect(page.locator("[data-error-summary]")).to_have_count(0)
        expect(page.locator("input[name=phone]")).to_have_value("")
        assert not page.evaluate("document.body.hasAttribute('data-answers-post')")
        shot(page, "after-reload", size)
    finally:
        context.close()


# --- 8. the home page ---------------------------------------------------------------------------


def test_the_home_page_starts_with_its_search_on_a_phone(browser, live_server):
    for role in ("visitor", "resident"):
        context, page = window(browser, "phone")
        try:
            if ROLES[role]:
                log_in(page, live_server, ROLES[role])
            page.goto(live_server + "/")
            search = page.locator("main input[type=search]")
            expect(search).to_be_visible()
            box = search.bounding_box()
            assert box["y"] + box["height"] < PHONE[1] / 2, box
            assert page.locator("main h1").bounding_box()["y"] < PHONE[1] / 3
            shot(page, f"home-{role}", "phone")
        finally:
            context.close()
    context, page = window(browser, "desktop")
    try:
        page.goto(live_server + "/")
        shot(page, "home-visitor", "desktop")
    finally:
        context.close()
