"""The provider puts a carer on its roster with a certificate, and accepts a booking assigning
them, on a phone: the home-care listing requires the elder-care certificate (migration
0024_carers), the accept form offers the roster's active carers, and the booking page then
names the carer.  Every page passes axe-core (steps.py)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import today
from app.extensions import db
from providers.bookings.models import Booking
from providers.carers.kinds import QUALIFICATION_LABELS, QualificationKind
from providers.models import Listing, ServiceCategory
from tests.browser import arrange
from tests.browser.steps import Journey

HOME_CARE_STAFF = "13700000001"  # 安康居家养老服务中心 (demo data)


def _home_care_listing(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Listing.id).join(ServiceCategory, ServiceCategory.id == Listing.category_id)
            .where(ServiceCategory.code == "home_care").order_by(Listing.id).limit(1))


@pytest.mark.parametrize(("lang", "size"), [("zh", "phone")])
def test_provider_adds_a_certified_carer_and_assigns_them(browser, live_server, live_app, live_clock, lang, size):
    n = arrange.fresh_number()
    name = f"韩护理{n % 100}"
    with Journey(browser, live_server, live_app, "carers", lang, size) as j:
        page = j.page
        j.log_in(HOME_CARE_STAFF)
        j.open("/provider/carers", "roster")

        # Every mistake at once, next to its field.
        page.fill("input[name=name]", "")
        page.fill("input[name=phone]", "1234")
        page.fill("input[name=id_number]", "110105194912310021")
        j.submit("form[action$='/provider/carers']")
        expect(page.locator("#phone-error")).to_be_visible()
        expect(page.locator("#id_number-error")).to_be_visible()
        expect(page.locator("#name-error")).to_be_visible()
        j.step("roster-mistakes")

        page.fill("input[name=name]", name)
        page.fill("input[name=phone]", arrange.fresh_phone("139"))
        page.fill("input[name=id_number]", "11010519491231002X")
        j.submit("form[action$='/provider/carers']")
        carer_id = j.expect_url(r"/provider/carers/\d+$")
        j.expect_flash("%(name)s is on your roster. Add their certificates below.", name=name)
        expect(page.locator("main")).to_contain_text("1101**********002X")
        j.step("carer-added")

        page.select_option("select[name=kind]", QualificationKind.ELDER_CARE.value)
        page.fill("input[name=number]", f"YL{n:08d}")
        page.fill("input[name=expires_on]", (today() + timedelta(days=400)).isoformat())
        j.submit("form[action$='/qualifications']")
        j.expect_flash("The qualification is added.")
        expect(page.locator("main table")).to_contain_text(j.say(QUALIFICATION_LABELS[QualificationKind.ELDER_CARE]))
        j.step("certificate-added")

        # A resident books the home-care service; the provider accepts it with the new carer.
        booking_id = arrange.book_first_slot(live_app, arrange.resident(live_app, "冯奶奶"), _home_care_listing(live_app))
        j.open(f"/provider/bookings/{booking_id}", "booking-request")
        page.select_option("form[action$='/accept'] select[name=carer_id]", str(carer_id))
        j.submit("form[action$='/accept']")
        j.expect_flash("You accepted the booking.")
        expect(page.locator("#carer")).to_have_text(name)
        j.step("accepted-with-carer")
    with live_app.app_context():
        assert db.session.get(Booking, booking_id).carer_id == carer_id
