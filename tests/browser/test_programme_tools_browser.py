"""Officials' programme and subsidy tools in a browser, at phone and desktop size: the budget
chart over ten weeks of history, the public notice read without logging in, the city step
not offered to the verifier, and the programme form showing every problem at once.
The history is arranged through the services on the live database (the test helpers)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from app.clock import zone
from app.extensions import db
from billing.programmes import entitlements
from billing.subsidies import review
from providers.bookings import services
from tests import factories
from tests.browser import arrange
from tests import subsidy_helpers as h
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import SIZES, log_in
from tests.carer_helpers import carer_for
from tests.conftest import PASSWORD
from tests.programme_helpers import enrolled_resident, open_programme



@pytest.fixture
def window(browser, request):
    width, height = SIZES[request.param]
    if request.param == "desktop":
        height = 900
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.size = request.param
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i14-{name}-{page.size}.png"), full_page=True)


def _fresh_numbers():
    arrange.far_factory_numbers()  # far from the demo's phones, never another test's


def arrange_budget_history(app, clock) -> tuple[int, str]:
    """A programme opened on 2 November with one or two visits reserved each week for ten weeks."""
    _fresh_numbers()
    opened = datetime(2026, 11, 2, 10, tzinfo=zone())
    clock.set(opened)
    with app.app_context():
        programme, _award, listing, member, official, community = open_programme(
            budget_fen=200_000, contract_price_fen=6000, capacity=4)
        resident = enrolled_resident(programme, official, community)
        for week in range(10):
            clock.set(opened + timedelta(weeks=week))
            for days_ahead in range(1 + week % 2):
                booking = entitlements.book_with_entitlement(
                    db.session, resident, listing_id=listing.id,
                    starts_at=factories.next_slot(listing, days_ahead + 1), address="3号楼")
                services.accept(db.session, booking, member, carer_id=carer_for(booking))
                db.session.commit()
        return programme.id, official.phone


@pytest.mark.parametrize("window", ["phone", "desktop"], indirect=True)
def test_the_budget_chart_draws_ten_weeks(window, live_server, live_app, live_clock):
    programme_id, official = arrange_budget_history(live_app, live_clock)
    page = window
    log_in(page, live_server, official, PASSWORD)
    page.goto(f"{live_server}/official/programmes/{programme_id}/budget")
    chart = page.locator("#budget-chart svg.chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 340  # the width of the phone, less the page margins
    assert len(page.locator("#line-remaining").get_attribute("points").split()) == 11
    expect(page.locator("#line-projection")).to_have_count(1)
    expect(page.locator("#chart-legend li")).to_have_count(4)
    expect(page.locator("#budget-table tbody tr")).to_have_count(11)
    expect(page.locator("#runs-out")).to_contain_text("按近 8 周平均支出，预计")
    assert_accessible(page)
    shot(page, "programmes-budget-chart")


def arrange_claim(app, clock, *, approve: bool) -> dict:
    """A claim filed a month ago, verified by one official (and approved by another)."""
    _fresh_numbers()
    real = clock.now()
    clock.set(real - timedelta(days=31))
    with app.app_context():
        provider, staff, community = h.provider_with_staff()
        claim = h.file(provider, staff, h.register(provider, staff, community, title="社区门禁改造"), clock=clock)
        district, city = factories.official(), factories.official()
        review.verify(db.session, claim.id, official=district, note="资料齐全")
        if approve:
            review.approve(db.session, claim.id, official=city)
        db.session.commit()
        found = {"claim": claim.id, "district": district.phone, "city": city.phone, "staff": staff.phone,
                 "staff_name": staff.name, "district_name": district.name}
    clock.set(real)
    return found


@pytest.mark.parametrize("window", ["phone", "desktop"], indirect=True)
def test_anyone_reads_the_public_notice_without_logging_in(window, live_server, live_app, live_clock):
    found = arrange_claim(live_app, live_clock, approve=True)
    page = window
    page.goto(f"{live_server}/programmes")
    page.locator("#subsidy-notices-link").click()
    expect(page.locator(f"#notice-{found['claim']}")).to_be_visible()
    assert_accessible(page)
    page.locator(f"#notice-{found['claim']} h2 a").click()
    expect(page.locator("#notice-facts")).to_contain_text("社区门禁改造")
    expect(page.locator("#notice-period")).to_be_visible()
    expect(page.locator("#objection-login a")).to_be_visible()
    expect(page.locator("main form")).to_have_count(0)
    text = page.locator("main").inner_text()
    for private in (found["staff"], found["staff_name"], found["district"], found["district_name"]):
        assert private not in text
    assert_accessible(page)
    shot(page, "subsidies-public-notice")


@pytest.mark.parametrize("window", ["phone", "desktop"], indirect=True)
def test_the_verifier_is_told_why_instead_of_the_approve_form(window, live_server, live_app, live_clock):
    found = arrange_claim(live_app, live_clock, approve=False)
    page = window
    log_in(page, live_server, found["district"], PASSWORD)
    page.goto(f"{live_server}/official/subsidies/claims/{found['claim']}")
    expect(page.locator("#city-step-not-yours")).to_be_visible()
    expect(page.locator("#approve-form")).to_have_count(0)
    expect(page.locator("#reject-form")).to_have_count(0)
    assert_accessible(page)
    page.locator("#city-step-not-yours").scroll_into_view_if_needed()
    shot(page, "subsidies-verifier-no-approve")


@pytest.mark.parametrize("window", ["phone", "desktop"], indirect=True)
def test_the_programme_form_shows_every_problem_at_once(window, live_server, live_app):
    _fresh_numbers()
    with live_app.app_context():
        official = factories.official().phone
    page = window
    log_in(page, live_server, official, PASSWORD)
    page.goto(f"{live_server}/official/programmes/new")
    page.fill("input[name=start_date]", "2026-11-01")
    page.fill("input[name=end_date]", "2030-10-31")
    page.fill("input[name=quantity]", "1000")
    page.fill("input[name=unit_price]", "8x")
    page.fill("input[name=budget]", "-5")
    page.fill("input[name=allowance_per_month]", "8")
    page.locator("main form.stack button[type=submit]").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    assert summary.locator("li").count() >= 9  # title, five contract terms, end date, price, budget, …
    expect(page.locator("#title")).to_be_focused()  # the page opens at the first field at fault
    expect(page.locator("#budget-error")).to_be_visible()
    expect(page.locator("#end_date-error")).to_be_visible()
    assert_accessible(page)
    shot(page, "programmes-form-errors")
