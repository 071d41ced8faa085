"""Issue 15 in a browser, at phone and desktop size: a resident locked out by wrong passwords
reads how long the lock lasts, resets her password with the code sent by SMS (read from the
embedded outbox, as the sign-up journey does) and logs in with the new one; a grid worker
prints a resident's weekly visit schedule and resets her password after an ID check, printing
the slip with the temporary password."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from providers.bookings import services as bookings
from tests import factories
from tests.browser import arrange as arranging
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import SUBMIT, Journey
from tests.carer_helpers import carer_for
from tests.conftest import PASSWORD
from tests.grid_helpers import tree, worker_on

NEW_PASSWORD = "green teapot winter 58"


def shot(page, name: str, size: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"i15-recovery-{name}-{size}.png"), full_page=True)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_locked_out_resident_resets_her_password_by_sms_code(browser, live_server, live_app, size):
    phone = arranging.resident(live_app, "孙阿姨")
    with Journey(browser, live_server, live_app, "recovery-resident", "zh", size) as j:
        page = j.page
        j.open("/login")
        for _ in range(5):
            page.fill("input[name=phone]", phone)
            page.fill("input[name=password]", "not my password 1")
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")):
                page.locator(f"main form.stack {SUBMIT}").click()
        page.fill("input[name=phone]", phone)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as answer:
            page.locator(f"main form.stack {SUBMIT}").click()
        assert answer.value.status == 429
        expect(page.locator("main")).to_contain_text(re.compile(r"15"))
        j.step("locked")
        shot(page, "locked", size)

        page.locator("#forgot-password").click()
        j.expect_url(r"/password/forgot$")
        page.fill("input[name=phone]", phone)
        j.step("forgot")
        j.submit()
        j.expect_url(r"/password/reset$")
        page.fill("input[name=code]", arranging.sms_code(live_app, phone))
        page.fill("input[name=new_password]", NEW_PASSWORD)
        page.fill("input[name=confirm_password]", NEW_PASSWORD + "!")
        j.submit()
        expect(page.locator(".error-summary")).to_be_visible()  # the two passwords differ
        expect(page.locator("#confirm_password-error")).to_be_visible()
        j.step("reset-mismatch")
        shot(page, "reset-mismatch", size)
        page.fill("input[name=new_password]", NEW_PASSWORD)
        page.fill("input[name=confirm_password]", NEW_PASSWORD)
        j.submit()
        expect(page.locator("#nav-notifications")).to_be_visible()  # logged in
        j.step("reset-done")
        shot(page, "reset-done", size)

        # Log out, and back in with the new password.
        with page.expect_navigation():
            page.evaluate("document.querySelector(\"form[action$='/logout']\").submit()")
        j.log_in(phone, NEW_PASSWORD)
        j.step("logged-in-again")


def arrange_schedule(app, size: str) -> dict:
    factories._seq = itertools.count(985_000 + (1000 if size == "desktop" else 0))  # far from other tests' phones
    with app.app_context():
        listing = factories.listing()
        staff = factories.staff(listing.provider)
        t = tree(community=listing.communities[0])
        worker = worker_on(t["grid"], t["official"])
        booking = factories.booking(listing, t["resident"], starts_at=factories.next_slot(listing, days_ahead=1))
        bookings.accept(db.session, booking, staff, carer_id=carer_for(booking))
        db.session.commit()
        return {"worker": worker.phone, "resident": t["resident"].id, "booking": booking.id,
                "week": booking.starts_at.date().isoformat(), "carer": booking.carer.name}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_grid_worker_prints_a_weekly_schedule_and_a_password_slip(browser, live_server, live_app, size):
    world = arrange_schedule(live_app, size)
    with Journey(browser, live_server, live_app, "recovery-worker", "zh", size) as j:
        page = j.page
        j.log_in(world["worker"], PASSWORD)
        j.open(f"/grid-worker/residents/{world['resident']}", "resident")
        href = page.locator("#print-schedule").get_attribute("href")
        j.open(f"{href}?week={world['week']}", "schedule")
        visit = page.locator(f"#visit-{world['booking']}")
        expect(visit).to_contain_text(world["carer"])
        expect(visit).to_contain_text("****")
        shot(page, "schedule", size)
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        shot(page, "schedule-print", size)
        page.emulate_media(media="screen")

        j.open(f"/grid-worker/residents/{world['resident']}")
        page.locator("#reset-password").click()
        page.locator("input[name=method][value=in_person_id]").check()
        j.submit()
        expect(page.locator("#id_last4-error")).to_be_visible()  # the ID's last 4 characters are needed
        j.step("assisted-refused")
        page.locator("input[name=method][value=in_person_id]").check()
        page.fill("input[name=id_last4]", "012X")
        page.fill("textarea[name=note]", "本人持身份证来社区服务站")
        j.submit()
        expect(page.locator("#temporary-password")).to_be_visible()
        j.step("slip")
        shot(page, "slip", size)
