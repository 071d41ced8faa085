"""Notifications that arrive, in a browser at phone and desktop size: a resident chooses
email beside SMS (every mistake at once, then saved); an official reads the outbox, finds
a dead letter and sends it again.  Every page passes axe-core (steps.py)."""

import pytest
from playwright.sync_api import expect

from app.delivery.outbox import deliver_due, enqueue
from app.extensions import db
from tests.browser import arrange
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import Journey
from tests.outbox_helpers import ScriptedTransport

SIZES = [("zh", "phone"), ("en", "desktop")]


def shot(j: Journey, what: str) -> None:
    j.page.screenshot(path=str(ARTIFACTS / f"i15-outbox-{what}-{j.size}.png"), full_page=True)


@pytest.mark.parametrize(("lang", "size"), SIZES)
def test_a_resident_chooses_email_as_well(browser, live_server, live_app, lang, size):
    phone = arrange.resident(live_app, "秦奶奶")
    with Journey(browser, live_server, live_app, f"outbox-preferences-{lang}", lang, size) as j:
        j.choose_language()
        j.log_in(phone, arrange.PASSWORD)
        j.open("/account/notifications", "preferences")
        page = j.page
        expect(page.locator("input[name=sms]")).to_be_checked()
        page.check("input[name=email]")
        page.fill("input[name=email_address]", "qin@")
        j.submit()
        expect(page.locator(".error-summary")).to_be_visible()
        expect(page.locator("#email_address-error")).to_contain_text(j.say("Enter an email address like name@example.com."))
        j.step("preferences-mistakes")
        shot(j, "preferences-mistakes")
        page.fill("input[name=email_address]", "qin@example.com")
        j.submit()
        j.expect_flash("Your notification choices are saved.")
        expect(page.locator("input[name=email]")).to_be_checked()
        expect(page.locator("input[name=email_address]")).to_have_value("qin@example.com")
        j.step("preferences-saved")
        shot(j, "preferences-saved")


@pytest.mark.parametrize(("lang", "size"), SIZES)
def test_an_official_sends_a_dead_letter_again(browser, live_server, live_app, lang, size):
    n = arrange.fresh_number()
    recipient = arrange.fresh_phone("135")
    with live_app.app_context():
        dead = enqueue(db.session, channel="sms", recipient=recipient, template="reminder_24h",
                params={"service": "助浴", "time": "09:00"}, dedup_key=f"browser-dead-{n}-{size}", urgent=True)  # not held by quiet hours
        db.session.commit()
        deliver_due(db.session, ids=[dead.id], transports_by_channel={"sms": ScriptedTransport(1, permanent=True)})
        db.session.remove()
    with Journey(browser, live_server, live_app, f"outbox-official-{lang}", lang, size) as j:
        j.choose_language()
        j.log_in(arrange.OFFICIAL)
        j.open("/official/outbox?status=dead", "dead-letters")
        page = j.page
        row = page.locator("article.outbox-message", has_text=recipient)
        expect(row).to_contain_text("provider down (scripted)")
        expect(row).to_contain_text(j.say("Dead letter"))
        shot(j, "dead-letters")
        row.locator("button[type=submit]").click()
        j.expect_flash("The message will be sent again.")
        expect(page.locator("article.outbox-message", has_text=recipient)).to_have_count(0)
        j.open("/official/outbox", "outbox-after-retry")
        expect(page.locator("article.outbox-message", has_text=recipient)).to_contain_text(j.say("Waiting"))
        shot(j, "after-retry")
