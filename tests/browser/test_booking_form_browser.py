"""Issue 14: the booking form on a phone (390x844) and a desktop, in Chinese, as 王阿姨 books
上门深度保洁: the whole form in one screen, a day then a time, the address remembered; a time
inside the 24-hour notice states its fee before booking; the booking page and its cancel
dialog state the fee that cancelling now keeps, which is the fee the refund keeps; a form
sent with nothing chosen and no address shows every problem at once.  Without JavaScript the
day strip is links and the form works the same.

The live clock is put on a Monday 07:00 three weeks ahead, so these bookings stay clear of
the other journeys' "first free time" (they book within the next two weeks).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import local
from app.extensions import db
from billing.payment_models import Payment, Refund
from providers.bookings.models import Booking, BookingStatus
from providers.models import Listing
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import SIZES, log_in

RESIDENT = "13800000001"  # 王阿姨, 城里社区
LISTING = "上门深度保洁（两小时）"  # ¥120.00 a visit, the default 20 % late-cancellation fee
ADDRESS = "城里社区5号楼1单元302"
SHANGHAI = timezone(timedelta(hours=8))


def monday_ahead() -> datetime:
    """07:00 (Shanghai) on the Monday three weeks from now."""
    today = datetime.now(SHANGHAI).date()
    monday = today + timedelta(days=21 - today.weekday())
    return datetime(monday.year, monday.month, monday.day, 7, tzinfo=SHANGHAI)


def listing_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Listing.id).where(Listing.title == LISTING))


def shot(page, what: str, size: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i14-booking-{what}-{size}.png"), full_page=size == "desktop")


def bottom_of(locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"] + box["height"]


# Each window size books its own times (one live booking of a time per resident).
@pytest.mark.parametrize(("size", "free_time", "late_time"), [("phone", "11:00", "13:00"),
                                                              ("desktop", "13:00", "15:00")])
def test_booking_form_fee_and_cancel(browser, live_server, live_app, live_clock, size, free_time, late_time):
    monday = monday_ahead()
    live_clock.set(monday)
    tuesday = (monday + timedelta(days=1)).date().isoformat()
    width, height = SIZES[size]
    height = 844 if size == "phone" else 900
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    lid = listing_id(live_app)
    try:
        log_in(page, live_server, RESIDENT)

        # The form: the day strip, the first day's times, the address, the button: one screen.
        page.goto(f"{live_server}/listings/{lid}/book")
        expect(page.locator("#day-strip a").first).to_have_attribute("aria-current", "date")
        first_day = page.locator("#day-strip a").first.inner_text()
        assert re.fullmatch(r"周[一二三四五六日]\s*\d{1,2}/\d{1,2}", first_day.strip()), first_day
        page.evaluate("() => window.scrollTo(0, 0)")
        shot(page, "form", size)
        bottom = bottom_of(page.locator("#booking-form button[type=submit]"))
        print(f"{size}: the submit button ends at {bottom:.0f} px of {height}")
        assert bottom <= height, "the button is below the fold"
        assert bottom_of(page.locator("input[name=address]")) <= height
        assert_accessible(page, f"booking form ({size})")

        # A day, then a time: Tuesday's times come in place (no reload); a time two days away
        # is free to cancel until an exact time, the day before.
        page.fill("input[name=address]", ADDRESS)
        page.locator(f"#day-strip a[data-day='{tuesday}']").click()
        expect(page.locator(f"#day-strip a[data-day='{tuesday}']")).to_have_attribute("aria-current", "date")
        expect(page.locator("input[name=address]")).to_have_value(ADDRESS)  # what was typed stays
        page.locator(".slot", has_text=f"{free_time}–").locator("input").check()
        deadline = local(monday).strftime("%-m月%-d日") + f" 周一 {free_time} 前可免费取消"
        expect(page.locator("#slot-terms")).to_contain_text(deadline)
        page.locator("#booking-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
        expect(page.locator("#free-cancel-until")).to_contain_text(deadline)

        # The address is remembered for the next booking.  Monday's times are inside the notice:
        # each states its fee, and the chosen one says it in full, before booking.
        page.goto(f"{live_server}/listings/{lid}/book")
        expect(page.locator("input[name=address]")).to_have_value(ADDRESS)
        late = page.locator(".slot", has_text=f"{late_time}–")
        expect(late).to_contain_text("已付则扣 ¥24.00")
        late.locator("input").check()
        expect(page.locator("#slot-terms")).to_contain_text("服务商接单后取消：若已付款，将扣留已付金额的 20%（¥24.00）")
        assert "免费取消" not in page.locator("#slot-terms").inner_text().replace("已过免费取消时间", "")
        shot(page, "fee-inside-window", size)
        page.evaluate("() => window.scrollTo(0, 0)")
        bottom = bottom_of(page.locator("#booking-form button[type=submit]"))
        print(f"{size}: with a time inside the notice chosen, the submit button ends at {bottom:.0f} px of {height}")
        assert bottom <= height, "the button is below the fold"
        page.locator("#booking-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
        booking_id = int(page.url.rsplit("/", 1)[1])

        # Accepted and paid on site; the booking page and the cancel dialog state the fee kept now.
        arrange.accept(live_app, booking_id)
        with live_app.app_context():
            from billing import payments

            payments.confirm_offline_receipt(db.session, db.session.get(Booking, booking_id))
            db.session.commit()
        page.reload()
        expect(page.locator("#cancel-fee")).to_contain_text("现在取消将收取 ¥24.00（已付金额的 20%）")
        expect(page.locator("#free-cancel-until")).not_to_contain_text("前可免费取消")
        shown = int(page.locator("#cancel-fee").get_attribute("data-fee-fen"))
        assert shown == 2400
        page.locator("#cancel-fee").scroll_into_view_if_needed()
        shot(page, "cancel-fee", size)
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.locator("form[action$='/cancel'] button[type=submit]").click()
        expect(page.locator(".flash-success")).to_be_visible()
        assert asked == ["确定取消此预约？将收取 ¥24.00。"]
        with live_app.app_context():
            booking = db.session.get(Booking, booking_id)
            assert booking.status == BookingStatus.CANCELLED_BY_RESIDENT and booking.late_cancellation
            refund = db.session.scalar(sa.select(Refund).join(Payment).where(Payment.booking_id == booking_id))
            assert refund.late_fee_fen == shown and refund.amount_fen == 12000 - shown

        # Nothing chosen and no address: every problem at once, the first field focused.
        page.goto(f"{live_server}/listings/{lid}/book")
        page.fill("input[name=address]", "")
        page.locator("#booking-form button[type=submit]").click()
        summary = page.locator("[data-error-summary]")
        expect(summary).to_contain_text("2")
        expect(summary.locator("a")).to_have_count(2)
        expect(page.locator("#starts_at-error")).to_be_visible()
        expect(page.locator("#address-error")).to_be_visible()
        expect(page.locator("input[name=starts_at]").first).to_be_focused()
        assert_accessible(page, f"booking form errors ({size})")
        page.evaluate("() => window.scrollTo(0, 0)")
        shot(page, "errors", size)
    finally:
        context.close()


def test_the_day_strip_works_without_javascript(browser, live_server, live_app, live_clock):
    monday = monday_ahead() + timedelta(days=7)  # a week of its own
    live_clock.set(monday)
    wednesday = (monday + timedelta(days=2)).date().isoformat()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server, RESIDENT)
        lid = listing_id(live_app)
        page.goto(f"{live_server}/listings/{lid}/book")
        page.locator(f"#day-strip a[data-day='{wednesday}']").click()
        expect(page).to_have_url(re.compile(rf"\?day={wednesday}$"))
        expect(page.locator(f"#day-strip a[data-day='{wednesday}']")).to_have_attribute("aria-current", "date")
        page.locator(".slot", has_text="09:00–").locator("input").check()
        if not page.locator("input[name=address]").input_value():
            page.fill("input[name=address]", ADDRESS)
        page.locator("#booking-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
        with live_app.app_context():
            booking = db.session.get(Booking, int(page.url.rsplit("/", 1)[1]))
            assert local(booking.starts_at).date().isoformat() == wednesday
            assert local(booking.starts_at).strftime("%H:%M") == "09:00"
    finally:
        context.close()
