"""A booking from request to rating and settlement, in three browsers (resident on a
phone, provider and official on a desktop)."""

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from providers.bookings.models import Booking
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import act, desktop, log_in

COMMENT = "准时上门，打扫得很干净，谢谢！"


def test_resident_books_provider_serves_resident_rates(browser, page, live_server, live_app, live_clock):
    # The resident (城里社区) finds deep cleaning and books the first free slot.
    log_in(page, live_server, "13800000001")
    page.goto(live_server + "/catalogue?q=深度保洁")
    page.locator(".results .card h3 a").first.click()
    listing_url = page.url
    page.locator("a[href$='/book']").first.click()
    page.locator("input[name=starts_at]").first.check()
    page.fill("textarea[name=address], input[name=address]", "城里社区5号楼1单元302")
    page.locator("main form.stack button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_id = int(page.url.rsplit("/", 1)[1])

    # The provider accepts it, arrives on time, finishes.
    provider = desktop(browser)
    log_in(provider, live_server, "13700000002")
    provider.goto(f"{live_server}/provider/bookings/{booking_id}")
    act(provider, "accept")
    act(provider, "payment-received")  # paid on site (the embedded offline gateway)
    with live_app.app_context():
        booking = db.session.scalar(sa.select(Booking).where(Booking.id == booking_id))
        starts, ends = booking.starts_at, booking.ends_at
    live_clock.set(starts + timedelta(minutes=5))
    provider.reload()
    act(provider, "check-in")
    live_clock.set(ends + timedelta(minutes=5))
    provider.reload()
    act(provider, "complete")
    assert_accessible(provider)
    provider.screenshot(path="test-artifacts/provider_completed_booking.png", full_page=True)
    provider.context.close()

    # The resident rates it; the rating shows on the listing page.
    live_clock.set(ends + timedelta(hours=2))
    page.goto(f"{live_server}/bookings/{booking_id}/rate")
    for name in ("overall", "timeliness", "quality", "attitude"):
        page.locator(f"input[name={name}][value='5']").check()
    page.fill("textarea[name=comment]", COMMENT)
    page.locator("main form.stack button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()
    page.goto(listing_url)
    expect(page.locator("main")).to_contain_text(COMMENT)

    # The month closes and is settled; the provider reads its statement.
    from billing.settlements import settle

    period = ends.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    year, month = map(int, period.split("-"))
    live_clock.set(datetime(year + month // 12, month % 12 + 1, 1, 6, tzinfo=timezone.utc))
    with live_app.app_context():
        # This provider's month only: other journeys settle their own providers' months.
        settle(db.session, booking.provider_id, period)
        db.session.commit()
    provider = desktop(browser)
    log_in(provider, live_server, "13700000002")
    provider.goto(f"{live_server}/provider/statements/{period}")
    expect(provider.locator("main")).to_contain_text(f"#{booking_id}")
    expect(provider.locator("main")).to_contain_text("¥120.00")
    provider.context.close()

    # An official sees the billing overview, with the ledger balanced.
    official = desktop(browser)
    log_in(official, live_server, "13900000001")
    official.goto(f"{live_server}/official/billing")
    expect(official.locator(".badge-active").first).to_be_visible()
    expect(official.locator(".badge-rejected")).to_have_count(0)
    assert_accessible(official)
    official.screenshot(path="test-artifacts/official_billing_overview.png", full_page=True)
    official.context.close()
