"""Issue 13 in a browser: the community office sets a resident's home by typing its
coordinates and issues a code card whose printable page shows the codes; a resident
sets their home "from this phone", with Playwright's geolocation emulation (the
page's script asks the browser, which Permissions-Policy ``geolocation=(self)`` allows).
Every page passes axe-core (steps.py)."""

from __future__ import annotations

from playwright.sync_api import expect

from app.extensions import db
from providers.visits.geo import home_of
from providers.visits.models import LocationMethod
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import SIZES, SUBMIT, Journey, log_in

# 淄川区城里社区, roughly: the door the emulated phone stands at.
DOOR = {"latitude": 36.643512, "longitude": 117.967801, "accuracy": 25}


def stored_home(app, phone: str):
    with app.app_context():
        home = home_of(db.session, arrange.user(phone).id)
        return None if home is None else (home.lat, home.lon, home.accuracy_m, home.method)


def test_the_office_sets_a_home_by_coordinates_and_prints_a_code_card(browser, live_server, live_app):
    name = f"赵阿婆{arrange.fresh_number()}"
    phone = arrange.resident(live_app, name)
    with Journey(browser, live_server, live_app, "visit-office", "zh", "phone") as j:
        page = j.page
        j.log_in(arrange.OFFICIAL, "linli-demo")
        j.open("/official/homes", "find-resident")
        page.fill("input[name=phone]", phone)
        page.locator("main form[role=search] button[type=submit]").click()
        expect(page.locator("main section.resident h2")).to_have_text(name)
        j.step("found")
        j.follow("main a[href$='/home']")
        j.step("home-form")
        page.fill("input[name=lat]", "36.6435")
        page.fill("input[name=lon]", "117.9678")
        page.check("input[name=consent]")
        j.submit("main form.home-location")
        j.expect_flash("The home location is saved.")
        j.step("home-set")
        assert stored_home(live_app, phone) == (36.6435, 117.9678, None, LocationMethod.ENTERED)

        j.follow("main a[href^='/official/homes']")
        j.follow("main a[href$='/cards']")
        j.step("cards")
        page.locator(f"main form[action$='/cards'] {SUBMIT}").click()
        codes = page.locator(".card-codes .code")
        expect(codes).to_have_count(20)
        expect(page.locator(".card-resident")).to_have_text(name)
        expect(page.locator(".card-notice")).to_contain_text(j.say(
            "Each code works once. Report a lost card to the community office."))
        assert all(len(text.replace(" ", "")) == 6 for text in codes.all_inner_texts())
        j.step("card-printed")
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        expect(codes.first).to_be_visible()


def test_a_resident_sets_the_home_from_this_phone(browser, live_server, live_app):
    phone = arrange.resident(live_app, f"钱大爷{arrange.fresh_number()}")
    width, height = SIZES["phone"]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  geolocation=DOOR, permissions=["geolocation"])
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        log_in(page, live_server, phone, arrange.PASSWORD)
        page.goto(live_server + "/bookings")
        page.locator("main a[href='/my/home']").click()
        assert_accessible(page, "my home, before")
        page.locator("[data-home-locate]").click()
        expect(page.locator("input[name=lat]")).to_have_value("36.643512")
        expect(page.locator("input[name=lon]")).to_have_value("117.967801")
        expect(page.locator("[data-home-status]")).to_contain_text("25")
        page.check("input[name=consent]")
        page.locator(f"main form.home-location {SUBMIT}").click()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator("main form.home-location")).to_have_count(0)  # set once
        assert_accessible(page, "my home, set")
        assert stored_home(live_app, phone) == (36.643512, 117.967801, 25.0, LocationMethod.DEVICE)
    finally:
        context.close()
