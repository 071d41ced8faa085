"""Money clarity and ratings as a resident sees them (issue 14), on a phone and a desktop:
the accepted booking's way to reach the provider (masked number, shown in full on a logged
press, with tap-to-call), the offline payment page (whom, how, how much), a programme-paid
booking named instead of a price, the rating form's errors all at once, and the rating with
its tags once published (the rate button gone).  Every page passes axe-core; screenshots
``test-artifacts/i14-money-*`` and ``i14-ratings-*`` (``-phone`` / ``-desktop``)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from providers.models import Listing, Provider, ServiceCategory
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import log_in

HOME_CARE = "安康居家养老服务中心"  # demo provider
SIZES = [pytest.param("phone", marks=pytest.mark.viewport(390, 844), id="phone"),
         pytest.param("desktop", marks=pytest.mark.viewport(1280, 900), id="desktop")]


def _home_care_listing(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Listing.id).join(ServiceCategory, ServiceCategory.id == Listing.category_id)
            .join(Provider, Provider.id == Listing.provider_id)
            .where(ServiceCategory.code == "home_care", Provider.name == HOME_CARE).order_by(Listing.id).limit(1))


def _shot(page, name: str, size: str) -> None:
    page.wait_for_load_state("load")
    assert_accessible(page, f"{name} ({size})")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i14-{name}-{size}.png"), full_page=True)
    page.evaluate("() => window.scrollTo(0, 0)")


def _programme_booking(app, n: int) -> tuple[str, int, str]:
    """A fresh resident enrolled in a fresh programme awarded to 安康, with a booking made with the
    entitlement and accepted; (phone, booking id, programme title)."""
    from app.clock import today
    from app.models import Community, User
    from billing.programmes import eligibility, entitlements, programmes
    from billing.programmes.eligibility import ProfileFacts
    from billing.programmes.programmes import ProgrammeTerms
    from providers.bookings.slots import available_slots

    title = f"i14 居家照护购买服务 {n}"
    phone = arrange.resident(app, f"程奶奶{n % 100}")
    listing_id = _home_care_listing(app)
    with app.app_context():
        official = db.session.scalar(sa.select(User).where(User.phone == arrange.OFFICIAL))
        community = db.session.scalar(sa.select(Community).where(Community.code == arrange.CHENGLI))
        provider = db.session.scalar(sa.select(Provider).where(Provider.name == HOME_CARE))
        start = today().replace(day=1)
        programme = programmes.create_programme(db.session, official, ProgrammeTerms(
            title=title, service_content="上门居家照护", start_date=start,
            end_date=programmes.term_limit(start, False), quantity=100, quality_requirements="持证上岗",
            unit_price_fen=5000, settlement_method="按月结算", performance_targets="准时率 ≥ 95%",
            breach_liability="不合格扣减 10%", budget_fen=500_000, allowance_per_month=4, min_age=60,
            requires_living_alone=True, category_ids=[arrange.category_id("home_care")],
            community_ids=[community.id]))
        programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=5000, quota=100)
        programmes.open_programme(db.session, programme, official)
        eligibility.enrol(db.session, programme, official, phone=phone,
                          facts=ProfileFacts(birth_date=date(1947, 5, 2), lives_alone=True))
        db.session.commit()
        listing = db.session.get(Listing, listing_id)
        starts_at, _left = available_slots(db.session, listing)[0]
        booking = entitlements.book_with_entitlement(db.session, arrange.user(phone), listing_id=listing_id,
                                                     starts_at=starts_at, address="城里社区5号楼1单元302")
        db.session.commit()
        booking_id = booking.id
    arrange.accept(app, booking_id)
    return phone, booking_id, title


@pytest.mark.parametrize("size", SIZES)
def test_money_is_clear_and_a_served_visit_is_rated_with_tags(page, live_server, live_app, live_clock, size):
    n = arrange.fresh_number()
    listing_id = _home_care_listing(live_app)
    resident = arrange.resident(live_app, f"邱爷爷{n % 100}")
    booking_id = arrange.book_first_slot(live_app, resident, listing_id)
    arrange.accept(live_app, booking_id)
    with live_app.app_context():
        provider_phone = db.session.get(Provider, arrange.provider_named(live_app, HOME_CARE)).contact_phone

    # The accepted booking: how to reach the provider (masked), then the number on a logged press.
    log_in(page, live_server, resident, arrange.PASSWORD)
    page.goto(f"{live_server}/bookings/{booking_id}")
    card = page.locator("#provider-contact-card")
    expect(card).to_be_visible()
    expect(page.locator("#masked-phone")).to_have_text(f"{provider_phone[:3]}****{provider_phone[-4:]}")
    expect(page.locator("#contact-carer")).to_be_visible()
    assert provider_phone not in page.content()
    _shot(page, "money-contact", size)
    card.locator("button[type=submit]").click()
    expect(page.locator("#call-provider")).to_have_attribute("href", f"tel:{provider_phone}")
    _shot(page, "money-contact-call", size)

    # Paying offline: whom, how, how much, and that the provider confirms.
    page.goto(f"{live_server}/bookings/{booking_id}")
    page.locator("form[action$='/pay'] button[type=submit]").click()
    expect(page.locator("#offline-payment")).to_be_visible()
    expect(page.locator("#pay-whom")).to_have_text(HOME_CARE)
    expect(page.locator("#pay-amount")).to_contain_text("¥")
    expect(page.locator("#pay-methods li").first).to_be_visible()
    _shot(page, "money-offline-pay", size)

    # Served (the provider confirms the cash on site): the rating form, every error at once.
    arrange.serve(live_app, live_clock, booking_id, payment_received=True)
    page.goto(f"{live_server}/bookings/{booking_id}")
    expect(page.locator("#payment-state")).to_have_attribute("data-state", "paid")
    rate_link = page.locator(f"a[href='/bookings/{booking_id}/rate']")
    expect(rate_link).to_be_visible()
    rate_link.click()
    page.locator("main form.stack textarea[name=comment]").fill("长" * 1001)
    page.locator("main form.stack button[type=submit]").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("li")).to_have_count(2)
    expect(page.locator("#overall-error")).to_be_visible()
    _shot(page, "ratings-form", size)

    page.locator("main form.stack label:has(input[name=overall][value='4'])").click()
    page.locator("main form.stack label:has(input[name=tags][value=punctual])").click()
    page.locator("main form.stack label:has(input[name=tags][value=patient])").click()
    page.locator("main form.stack textarea[name=comment]").fill("准时到，很耐心。")
    page.locator("main form.stack button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main [data-tag=punctual]")).to_be_visible()
    expect(page.locator("main [data-tag=patient]")).to_be_visible()
    _shot(page, "ratings-rated", size)
    page.goto(f"{live_server}/bookings/{booking_id}")
    expect(page.locator(f"a[href='/bookings/{booking_id}/rate']")).to_have_count(0)
    # The public listing: the tags residents chose, counted, and on each rating.
    page.goto(f"{live_server}/listings/{listing_id}")
    expect(page.locator("#tag-summary [data-tag=punctual]")).to_be_visible()
    _shot(page, "ratings-public", size)

    # A programme-paid booking: the programme is named where the price would be, and no "Pay now".
    programme_resident, programme_booking, title = _programme_booking(live_app, n)
    page.context.clear_cookies()
    log_in(page, live_server, programme_resident, arrange.PASSWORD)
    page.goto(f"{live_server}/bookings/{programme_booking}")
    expect(page.locator(".paid-by-programme")).to_contain_text(title)
    expect(page.locator("#paid-by-programme")).to_contain_text(title)
    expect(page.locator("form[action$='/pay']")).to_have_count(0)
    _shot(page, "money-programme-paid", size)
    page.goto(f"{live_server}/bookings")
    expect(page.locator(f"#booking-{programme_booking} .paid-by-programme")).to_contain_text(title)
