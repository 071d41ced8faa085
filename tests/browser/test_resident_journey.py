"""A resident's whole journey, in Chinese and in English, on a phone and on a desktop: sign up,
find and book a service, pay, rate it, complain.  Every page passes axe-core (steps.py).

The provider's side (accepting, the money received on site, arriving and finishing) is done by
its services in between (arrange.py); the provider's own pages are walked in test_provider_journey.py.
"""

import pytest
from playwright.sync_api import expect

from providers.bookings.models import BOOKING_STATUS_LABELS, BookingStatus
from ratings.models import COMPLAINT_STATUS_LABELS, ComplaintStatus
from tests.browser import arrange
from tests.browser.steps import ANY, RUNS, Journey

LISTING = "上门深度保洁"  # 洁美家政 (demo), offered in 城里社区
COMMENT = "准时上门，打扫得很干净。"
COMPLAINT = "保洁员走时把垃圾袋留在了楼道里。"


@pytest.mark.parametrize(("lang", "size"), RUNS)
def test_resident_signs_up_books_pays_rates_and_complains(browser, live_server, live_app, live_clock, lang, size):
    phone = arrange.fresh_phone("135")
    with Journey(browser, live_server, live_app, "resident", lang, size) as j:
        page = j.page
        j.choose_language()

        # Sign up in 城里社区: the catalogue greets the new resident.
        j.follow("a[href='/signup']")
        page.fill("input[name=name]", "钱阿姨")
        page.fill("input[name=phone]", phone)
        page.fill("input[name=password]", arrange.PASSWORD)
        page.select_option("select[name=community]", label="城里社区")
        j.step("sign-up")
        j.submit()
        # A code goes to the phone by SMS (the embedded outbox); the account is made once it is entered.
        j.expect_url(r"/signup/verify$")
        j.expect_flash("We sent a 6-digit code by SMS to %(phone)s. Enter it here.", phone=phone)
        page.fill("input[name=code]", arrange.sms_code(live_app, phone))
        j.step("sign-up-code")
        j.submit()
        j.expect_url(r"/catalogue")
        j.expect_flash("Welcome to Linli, %(name)s!", name="钱阿姨")
        j.step("welcome")

        # Search for cleaning (every result is a cleaning service) and open deep cleaning.
        page.fill("main input[name=q]", "保洁")
        page.locator("main input[name=q]").press("Enter")
        result = page.locator(".results .card h3 a", has_text=LISTING).first
        expect(result).to_be_visible()
        titles = page.locator(".results .card h3").all_inner_texts()
        assert all("保洁" in title or "清洁" in title for title in titles), titles
        j.step("search")
        result.click()
        listing_id = j.expect_url(r"/listings/\d+$")
        expect(page.locator("h1")).to_contain_text(LISTING)
        j.step("listing")

        # Book the first free time.
        j.follow(f"a[href$='/listings/{listing_id}/book']")
        page.locator("input[name=starts_at]").first.check()
        page.fill("textarea[name=address], input[name=address]", "城里社区5号楼1单元302")
        j.step("book")
        j.submit()
        booking_id = j.expect_url(r"/bookings/\d+$")
        j.expect_flash("Your request is sent. The provider will answer by %(when)s.", when=ANY)
        j.expect_badge("main .lead .badge", "requested", BOOKING_STATUS_LABELS[BookingStatus.REQUESTED])
        j.step("requested")

        # The provider accepts; the payment falls due.  Pay: the embedded offline gateway says how
        # (on site or by bank transfer).
        arrange.accept(live_app, booking_id)
        page.reload()
        j.expect_badge("main .lead .badge", "accepted", BOOKING_STATUS_LABELS[BookingStatus.ACCEPTED])
        j.expect_badge("main .badge-pending", "pending", "Not paid yet")
        j.step("accepted")
        page.locator(f"form[action$='/bookings/{booking_id}/pay'] button").click()
        expect(page.locator("h1")).to_have_text(j.say("How to pay"))
        expect(page.locator("main")).to_contain_text("¥120.00")
        j.step("how-to-pay")

        # The provider is paid on site, comes on time and finishes.
        arrange.serve(live_app, live_clock, booking_id, payment_received=True)
        page.locator(f"main a[href$='/bookings/{booking_id}']").click()
        j.expect_badge("main .lead .badge", "completed", BOOKING_STATUS_LABELS[BookingStatus.COMPLETED])
        j.expect_badge("main .badge-succeeded", "succeeded", "Paid")
        j.step("served-and-paid")

        # Rate it: five stars and a comment, shown back as published.
        j.follow(f"a[href$='/bookings/{booking_id}/rate']")
        for name in ("overall", "timeliness", "quality", "attitude"):
            page.locator(f"input[name={name}][value='5']").check()
        page.fill("textarea[name=comment]", COMMENT)
        j.step("rate")
        j.submit()
        j.expect_flash("Thank you: your rating is published.")
        expect(page.locator("main .card").first).to_contain_text(COMMENT)
        j.step("rated")

        # Complain about what went wrong; the provider is given its 48 hours.
        j.follow(f"a[href$='/bookings/{booking_id}/complain']")
        page.select_option("select[name=kind]", "poor_quality")
        page.fill("textarea[name=description]", COMPLAINT)
        j.step("complain")
        j.submit()
        j.expect_url(r"/complaints/\d+$")
        j.expect_flash("Your complaint is filed. The provider has %(n)d hours to respond.", n=48)
        expect(page.locator("main")).to_contain_text(COMPLAINT)
        expect(page.locator("main")).to_contain_text(j.say(COMPLAINT_STATUS_LABELS[ComplaintStatus.OPEN]))
        j.step("complained")

        j.open("/complaints")
        expect(page.locator("main table")).to_contain_text(LISTING)
        expect(page.locator("main table")).to_contain_text(j.say(COMPLAINT_STATUS_LABELS[ComplaintStatus.OPEN]))
        j.step("my-complaints")
