"""Issue 14 polish, in the browser at a phone (390x844) and a desktop (1280x900), in Chinese
unless said: each defect the tester found, seen as the person sees it, measured where a size
is the point, with a screenshot ``test-artifacts/i14-polish-<what>-<size>.png``.

1. "评价此服务" is offered exactly while the rating window is open;
2. a time inside the 24-hour notice states its fee as "if you have paid" before booking;
3. the slot buttons keep their text inside (Chinese, English, large text);
4. an active provider's checklist says residents can already book it; the credit code is shown,
   not offered;
5. the agenda says "未指派", the history has no empty "原因", the list comes in pages;
6. the catalogue's results start on the phone's first screen (the filters fold);
7. the subsidy breakdown's first column is "计算项", a month's bookings are "预约数";
8. the supervision dashboard's chart text is at least 14 px on a phone, and it links to the
   evaluation.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from providers.bookings.models import Booking
from providers.demo import DEMO_PASSWORD
from providers.models import Listing
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import log_in

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
RUNS = list(SIZES)
CLEANING = "上门深度保洁（两小时）"  # 洁美家政, serves 城里社区 (the demo's 日常保洁 serves 般阳社区 only)
ANKANG = "13700000001"  # 赵主任, 安康居家养老服务中心 (active, with bookings)
OFFICIAL = "13900000001"
SHANGHAI = timezone(timedelta(hours=8))


def window(browser, size: str, lang: str = "zh"):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def shot(page, what: str, size: str, *, full: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i14-polish-{what}-{size}.png"), full_page=full)


def listing_id(app, title: str = CLEANING) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Listing.id).where(Listing.title == title))


def monday_ahead(weeks: int) -> datetime:
    """07:00 (Shanghai) on a Monday some weeks ahead (clear of the other tests' bookings)."""
    today = datetime.now(SHANGHAI).date()
    monday = today + timedelta(days=7 * weeks - today.weekday())
    return datetime(monday.year, monday.month, monday.day, 7, tzinfo=SHANGHAI)


# --- 1. the rate button follows the rating window --------------------------------------------


@pytest.mark.parametrize("size", RUNS)
def test_the_rate_button_is_offered_only_inside_the_window(browser, live_server, live_app, live_clock, size):
    resident = arrange.resident(live_app, "评价窗口")
    booking_id = arrange.book_first_slot(live_app, resident, listing_id(live_app))
    arrange.accept(live_app, booking_id)
    arrange.serve(live_app, live_clock, booking_id)
    with live_app.app_context():
        done = db.session.get(Booking, booking_id).completed_at
    context, page = window(browser, size)
    try:
        log_in(page, live_server, resident, arrange.PASSWORD)
        live_clock.set(done + timedelta(days=13))
        page.goto(f"{live_server}/bookings/{booking_id}")
        expect(page.locator(f"a[href='/bookings/{booking_id}/rate']")).to_have_text("评价此服务")
        shot(page, "rate-open", size)
        live_clock.set(done + timedelta(days=14, minutes=1))
        page.goto(f"{live_server}/bookings/{booking_id}")
        expect(page.locator("h1")).to_contain_text(f"#{booking_id}")
        expect(page.locator(f"a[href='/bookings/{booking_id}/rate']")).to_have_count(0)
        assert_accessible(page, "a booking past its rating window")
        shot(page, "rate-closed", size)
        page.goto(f"{live_server}/bookings/{booking_id}/rate")
        expect(page.locator("main")).to_contain_text("不能再评价")
    finally:
        context.close()


# --- 2. the fee before booking is the refund's rule ------------------------------------------


@pytest.mark.parametrize(("size", "weeks"), [("phone", 4), ("desktop", 5)])
def test_a_time_inside_the_notice_states_its_fee_as_if_paid(browser, live_server, live_app, live_clock, size,
                                                           weeks):
    live_clock.set(monday_ahead(weeks))
    resident = arrange.resident(live_app, "取消费用")
    context, page = window(browser, size)
    try:
        log_in(page, live_server, resident, arrange.PASSWORD)
        page.goto(f"{live_server}/listings/{listing_id(live_app)}/book")
        late = page.locator(".slot", has_text="09:00–").first  # two hours away: inside the notice
        expect(late).to_contain_text("已付则扣 ¥")
        late.locator("input").check()
        terms = page.locator("#slot-terms")
        expect(terms).to_contain_text("服务商接单后取消：若已付款，将扣留已付金额的 20%")
        expect(terms).to_contain_text("尚未付款则不收取费用")
        page.locator("#booking-terms").click()
        expect(page.locator("#booking-terms-fee")).to_contain_text("若尚未付款，则不收取费用")
        assert_accessible(page, "the booking form with a time inside the notice")
        shot(page, "fee-if-paid", size)
    finally:
        context.close()


# --- 3. slot buttons keep their text inside --------------------------------------------------

CLIPPED = """() => [...document.querySelectorAll('.slot')].filter(slot => {
    const box = slot.getBoundingClientRect();
    const inner = [slot.querySelector('.slot-left'), slot.querySelector('.slot-clock'), slot.querySelector('.slot-meta')];
    return inner.some(el => { const r = el.getBoundingClientRect(); return r.right > box.right - 1 || r.left < box.left; });
}).length"""


@pytest.mark.parametrize("size", RUNS)
def test_slot_buttons_fit_their_text_in_chinese_english_and_large_text(browser, live_server, live_app, size):
    resident = arrange.resident(live_app, "时段按钮")
    context, page = window(browser, size)
    try:
        log_in(page, live_server, resident, arrange.PASSWORD)
        book = f"{live_server}/listings/{listing_id(live_app)}/book"
        for mode in ("zh", "en", "large"):
            if mode == "en":
                page.goto(live_server + "/")
                page.locator("button[name=lang][value=en]").click()
                expect(page.locator("html")).to_have_attribute("lang", "en")
            if mode == "large":
                page.goto(live_server + "/")
                page.locator("button[name=lang][value=zh]").click()
                page.get_by_role("button", name="大字模式").click()
                expect(page.locator("html")).to_have_class("large-text")
            page.goto(book)
            expect(page.locator(".slot").first).to_be_visible()
            clipped = page.evaluate(CLIPPED)
            count = page.locator(".slot").count()
            print(f"{size} {mode}: {clipped} of {count} slot buttons cut their text")
            assert clipped == 0
            assert page.evaluate("() => document.documentElement.scrollWidth") <= SIZES[size][0]
            page.locator("#slot-times").scroll_into_view_if_needed()
            shot(page, f"slots-{mode}", size, full=False)
        page.get_by_role("button", name="标准字号").click()
    finally:
        context.close()


# --- 4. an active provider's checklist and details form --------------------------------------


@pytest.mark.parametrize("size", RUNS)
def test_an_active_provider_is_told_the_truth_and_not_offered_its_credit_code(browser, live_server, size):
    context, page = window(browser, size)
    try:
        log_in(page, live_server, ANKANG, DEMO_PASSWORD)
        page.goto(live_server + "/provider")
        headline = page.locator("#first-steps-headline")
        if headline.count():
            expect(headline).to_contain_text("居民已可预约您的服务")
            expect(headline).not_to_contain_text("完成后居民即可预约")
            expect(page.locator("#step-payout")).to_contain_text("由区里登记")
            page.locator("#first-steps").scroll_into_view_if_needed()
        assert_accessible(page, "an active provider's dashboard")
        shot(page, "checklist", size, full=False)
        page.goto(live_server + "/provider/edit")
        expect(page.locator("input[name=credit_code]")).to_have_count(0)
        expect(page.locator("#credit-code-fixed")).to_contain_text("已审核通过的机构不能修改信用代码")
        assert_accessible(page, "the details form of an approved provider")
        page.locator("#credit-code-fixed").scroll_into_view_if_needed()
        shot(page, "credit-code", size, full=False)
    finally:
        context.close()


# --- 5. the provider's agenda ----------------------------------------------------------------


@pytest.mark.parametrize("size", RUNS)
def test_the_agenda_names_the_unassigned_and_pages_the_list(browser, live_server, live_app, size):
    with live_app.app_context():
        ankang = db.session.scalar(sa.select(Listing).where(Listing.provider.has(name="安康居家养老服务中心"),
                                                            Listing.status == "published"))
        ankang_listing = ankang.id
    resident = arrange.resident(live_app, "韩阿姨")
    booking_id = arrange.book_first_slot(live_app, resident, ankang_listing)
    starts, _ends = arrange.booking_times(live_app, booking_id)
    context, page = window(browser, size)
    try:
        log_in(page, live_server, ANKANG, DEMO_PASSWORD)
        day = starts.astimezone(SHANGHAI).date().isoformat()
        page.goto(f"{live_server}/provider/bookings?view=week&date={day}")
        row = page.locator(f"#booking-{booking_id}")
        expect(row).to_contain_text("未指派")
        row.scroll_into_view_if_needed()
        assert_accessible(page, "the week view")
        shot(page, "week-unassigned", size, full=False)

        page.goto(f"{live_server}/provider/bookings?view=list")
        height = page.evaluate("() => document.documentElement.scrollHeight")
        print(f"{size}: the list view's first page is {height} px long, "
              f"{page.locator('main tbody tr').count()} bookings")
        assert page.locator("main tbody tr").count() <= 15
        assert height < 6500
        expect(page.locator("#list-pages")).to_contain_text("第 1 页")
        expect(page.locator("#list-pages a", has_text="下一页")).to_be_visible()
        shot(page, "list-paged", size)

        page.goto(f"{live_server}/provider/bookings/{booking_id}")
        history = page.locator("#booking-history")
        expect(history).to_be_visible()
        expect(history).not_to_contain_text("原因")
        history.scroll_into_view_if_needed()
        shot(page, "history", size, full=False)
    finally:
        context.close()


# --- 6. the catalogue's results on the first screen ------------------------------------------


@pytest.mark.parametrize("size", RUNS)
def test_catalogue_results_start_on_the_first_screen(browser, live_server, size):
    context, page = window(browser, size)
    try:
        page.goto(live_server + "/catalogue?q=保洁")
        first = page.locator(".results .card").first
        expect(first).to_be_visible()
        top = first.bounding_box()["y"]
        print(f"{size}: the first result starts at {top:.0f} px")
        assert top < SIZES[size][1] - 150, "the first result is not on the first screen"
        if size == "phone":
            expect(page.locator("#category")).to_be_hidden()
            page.locator("#filter-fold > summary").click()
            expect(page.locator("#category")).to_be_visible()
            page.locator("#filter-fold > summary").click()
        else:
            expect(page.locator("#category")).to_be_visible()  # always open on a wide screen
            expect(page.locator("#filter-fold > summary")).to_be_hidden()
        assert_accessible(page, "the catalogue")
        shot(page, "catalogue", size, full=False)
        page.goto(live_server + "/catalogue?q=保洁&sort=price_asc")
        expect(page.locator("#category")).to_be_visible()  # a filter in use: open
        expect(page.locator("#filter-fold")).to_have_attribute("open", "")
        shot(page, "catalogue-filtered", size, full=False)
    finally:
        context.close()


# --- 7. labels ---------------------------------------------------------------------------------


def settled_last_month(app, provider_name: str) -> str:
    """安康's last month settled (as the monthly job does); returns the month "YYYY-MM"."""
    from billing import settlements

    first = datetime.now(SHANGHAI).date().replace(day=1)
    month = (first - timedelta(days=1)).strftime("%Y-%m")
    with app.app_context():
        settlements.settle(db.session, arrange.provider_named(app, provider_name), month)
        db.session.commit()
    return month


@pytest.mark.parametrize("size", RUNS)
def test_the_breakdown_and_statements_are_labelled_for_what_they_hold(browser, live_server, live_app, size):
    ankang = arrange.provider_named(live_app, "安康居家养老服务中心")
    claim_id = arrange.subsidy_claim(live_app, ankang, f"照护站交流慢充{arrange.fresh_number()}")
    month = settled_last_month(live_app, "安康居家养老服务中心")
    context, page = window(browser, size)
    try:
        log_in(page, live_server, ANKANG, DEMO_PASSWORD)
        page.goto(f"{live_server}/provider/subsidies/claims/{claim_id}")
        breakdown = page.locator("#breakdown")
        expect(breakdown.locator("thead th").first).to_have_text("计算项")
        expect(breakdown).not_to_contain_text("服务期限")
        breakdown.scroll_into_view_if_needed()
        shot(page, "breakdown", size, full=False)
        page.goto(live_server + "/provider/statements")
        heads = page.locator("main thead th").all_inner_texts()
        print(f"{size}: statements columns {heads}")
        assert "预约数" in heads and "预约管理" not in heads
        page.goto(f"{live_server}/provider/statements/{month}")
        expect(page.locator("main h2", has_text="本月结算的预约")).to_be_visible()
        assert "预约管理" not in page.locator("main h2").all_inner_texts()
        assert_accessible(page, "a month's statement")
        shot(page, "statement", size)
    finally:
        context.close()


# --- 8. the supervision dashboard on a phone ---------------------------------------------------

SMALLEST_TEXT = """() => Math.min(...[...document.querySelectorAll('main svg')].flatMap(svg => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return [...svg.querySelectorAll('text')].map(t => parseFloat(t.getAttribute('font-size')) * scale);
}))"""


@pytest.mark.parametrize("size", RUNS)
def test_the_dashboard_charts_are_readable_and_link_to_the_evaluation(browser, live_server, size):
    context, page = window(browser, size)
    try:
        log_in(page, live_server, OFFICIAL, DEMO_PASSWORD)
        page.goto(live_server + "/official/supervision/dashboard")
        smallest = page.evaluate(SMALLEST_TEXT)
        print(f"{size}: the smallest chart text is {smallest:.1f} px")
        assert smallest >= 14
        assert page.evaluate("() => document.documentElement.scrollWidth") <= SIZES[size][0]
        expect(page.locator("#run-evaluation")).to_have_text("运行考评")
        assert_accessible(page, "the supervision dashboard")
        shot(page, "dashboard", size)
        page.locator("#run-evaluation").click()
        expect(page).to_have_url(re.compile(r"/official/supervision/evaluate$"))
    finally:
        context.close()
