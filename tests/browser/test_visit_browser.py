"""The carer's phone at the door (issue 13): check in with the phone's location (Playwright's
geolocation emulation), the resident's page shows the visit code, the carer enters it at
check-out, and the visit is verified by it."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import force_locale, gettext
from playwright.sync_api import expect

from app.clock import now
from app.extensions import db
from providers.bookings import services as bookings
from providers.bookings.models import Booking
from providers.models import Listing, ListingStatus, ProviderStaff
from providers.visits.models import HomeLocation, LocationMethod, VerifiedBy, VisitRecord
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import log_in
from tests.carer_helpers import carer_for

CARER = "13700000002"  # 洁美家政's staff (demo)
HOME = {"latitude": 36.800530, "longitude": 118.041450}  # the resident's door
PHONE = {"width": 390, "height": 844}


def _arrange(app) -> tuple[int, str, str]:
    """A new resident with a home location, a booking of the carer's listing, accepted."""
    resident_phone = arrange.resident(app, "王秀英")
    with app.app_context():
        carer = arrange.user(CARER)
        provider_id = db.session.get(ProviderStaff, carer.id).provider_id
        listing = db.session.scalar(sa.select(Listing).where(Listing.provider_id == provider_id,
                                                             Listing.status == ListingStatus.PUBLISHED)
                                    .order_by(Listing.id).limit(1))
        listing.checklist = ["打扫卫生", "整理床铺"]
        resident = arrange.user(resident_phone)
        db.session.add(HomeLocation(resident_id=resident.id, lat=HOME["latitude"], lon=HOME["longitude"],
                                    accuracy_m=15, method=LocationMethod.ENTERED, consent_at=now(),
                                    set_by_id=resident.id))
        db.session.commit()
        listing_id = listing.id
    booking_id = arrange.book_first_slot(app, resident_phone, listing_id)
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        bookings.accept(db.session, booking, arrange.user(CARER), carer_id=carer_for(booking))
        db.session.commit()
    return booking_id, resident_phone, CARER


def say(app, msgid: str, **params) -> str:
    """What the app says in Chinese (its own catalogue: English until a message is translated)."""
    with app.test_request_context(), force_locale("zh"):
        return gettext(msgid, **params)


def _press(page, form, action: str) -> None:
    with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(action)):
        form.locator("button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()


def test_the_carer_checks_in_at_the_door_and_the_resident_s_code_verifies_the_visit(
        browser, live_server, live_app, live_clock):
    booking_id, resident_phone, carer_phone = _arrange(live_app)
    with live_app.app_context():
        booking = db.session.get(Booking, booking_id)
        starts, ends = booking.starts_at, booking.ends_at
    live_clock.set(starts - timedelta(minutes=5))

    # The carer's phone, with the location shared, opens today's visits and checks in.
    carer = browser.new_context(viewport=PHONE, locale="zh-CN", geolocation={**HOME, "accuracy": 12},
                                permissions=["geolocation"]).new_page()
    carer.set_default_timeout(15000)
    log_in(carer, live_server, carer_phone)
    carer.goto(live_server + "/provider/today")
    card = carer.locator(f"#visit-{booking_id}")
    form = card.locator("form[action$='/check-in']")
    expect(form).to_have_attribute("data-located", "yes")  # visit_location.js filled it in
    assert_accessible(carer, "today's visits")
    assert carer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scroll
    _press(carer, form, "/check-in")
    with live_app.app_context():
        record = db.session.get(VisitRecord, booking_id)
        assert record.check_in_distance_m == 0 and record.check_in_accuracy_m == 12
        assert record.check_in_device is not None

    # The resident's phone shows the visit code in big digits.
    resident = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
    resident.set_default_timeout(15000)
    log_in(resident, live_server, resident_phone, arrange.PASSWORD)
    resident.goto(f"{live_server}/bookings/{booking_id}")
    code = resident.locator(".visit-code strong").inner_text().strip()
    assert re.fullmatch(r"\d{6}", code)
    expect(resident.locator("main")).to_contain_text(say(live_app, "Give this code to the carer when the visit ends."))
    assert_accessible(resident, "the resident's code")

    # At the end the carer ticks the tasks, types the code and checks out.
    live_clock.set(ends - timedelta(minutes=2))
    carer.goto(live_server + "/provider/today")
    form = carer.locator(f"#visit-{booking_id} form[action$='/complete']")
    expect(form).to_have_attribute("data-located", "yes")
    form.locator("input[value='打扫卫生']").check()
    form.locator("input[name$='-code']").fill(code)
    _press(carer, form, "/complete")
    expect(carer.locator(f"#visit-{booking_id}")).to_contain_text(
        say(live_app, "Done and verified by the %(how)s.", how=say(live_app, "visit code")))
    carer.screenshot(path="test-artifacts/visit_checked_out.png", full_page=True)

    # The resident's page now shows the record: verified by the code, at the home.
    resident.reload()
    main = resident.locator("main")
    expect(main).to_contain_text("打扫卫生")
    expect(main).to_contain_text(say(live_app, "at the home (%(m)d m away)", m=0))
    expect(main).not_to_contain_text(str(HOME["latitude"]))
    with live_app.app_context():
        record = db.session.get(VisitRecord, booking_id)
        assert record.verified_by == VerifiedBy.CODE and record.tasks_done == ["打扫卫生"]
    carer.context.close()
    resident.context.close()
