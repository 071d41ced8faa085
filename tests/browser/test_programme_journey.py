"""A purchase programme end to end: an official opens it and enrols a resident, the resident
books with the entitlement, the provider serves, the settlement pays the programme's price."""

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from providers.bookings.models import Booking
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import act, desktop, log_in

TITLE = "浏览器测试：居家照护政府购买服务"


def _draft_programme(live_app) -> tuple[int, int]:
    """A draft with every term, awarded to 安康 at ¥50.00 a visit (the official opens it in the browser)."""
    from app.clock import today
    from app.models import Community, User
    from billing.programmes import programmes
    from billing.programmes.programmes import ProgrammeTerms
    from providers.models import Provider, ServiceCategory

    with live_app.app_context():
        official = db.session.scalar(sa.select(User).where(User.phone == "13900000001"))
        community = db.session.scalar(sa.select(Community).where(Community.code == "zichuan-chengli"))
        provider = db.session.scalar(sa.select(Provider).where(Provider.name == "安康居家养老服务中心"))
        home_care = db.session.scalar(sa.select(ServiceCategory.id).where(ServiceCategory.code == "home_care"))
        start = today().replace(day=1)
        programme = programmes.create_programme(db.session, official, ProgrammeTerms(
            title=TITLE, service_content="上门居家照护", start_date=start,
            end_date=programmes.term_limit(start, False), quantity=100, quality_requirements="持证上岗",
            unit_price_fen=5000, settlement_method="按月结算", performance_targets="准时率 ≥ 95%",
            breach_liability="不合格扣减 10%", budget_fen=500_000, allowance_per_month=4, min_age=60,
            requires_living_alone=True, category_ids=[home_care], community_ids=[community.id]))
        programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=5000, quota=100)
        db.session.commit()
        return programme.id, provider.id


def test_official_opens_and_enrols_resident_books_provider_serves_settlement_pays(
        browser, page, live_server, live_app, live_clock):
    programme_id, provider_id = _draft_programme(live_app)

    # The official opens the programme and enrols 陈奶奶 (城里社区, 78, living alone).
    official = desktop(browser)
    log_in(official, live_server, "13900000001")
    official.goto(f"{live_server}/official/programmes")
    official.locator(f"#programme-{programme_id} a").first.click()
    official.locator("#open-programme").click()
    expect(official.locator(".flash-success").first).to_be_visible()
    expect(official.locator("#programme-status")).to_have_text(re.compile(r"\S"))
    official.fill("#enrol-form input[name=phone]", "13800000003")
    official.fill("#enrol-form input[name=birth_date]", "1948-09-21")
    official.locator("#enrol-form input[name=lives_alone]").check()
    official.locator("#enrol-form button[type=submit]").click()
    expect(official.locator(".flash-success").first).to_be_visible()
    expect(official.locator("#enrolments")).to_contain_text("陈奶奶")
    assert_accessible(official)
    official.screenshot(path="test-artifacts/official_programme_opened.png", full_page=True)

    # The resident books 居家照护 with the entitlement: no payment asked.
    log_in(page, live_server, "13800000003")
    page.goto(f"{live_server}/my/entitlements")
    section = page.locator(f"#entitlement-{programme_id}")
    expect(section).to_contain_text(TITLE)
    section.locator("a.button.primary").first.click()
    expect(page.locator("#entitlement-note")).to_be_visible()
    page.locator("input[name=starts_at]").last.check()  # the latest slot offered
    page.fill("input[name=address]", "城里社区2号楼3单元101")
    page.locator("main form.stack button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#entitlement-status-card")).to_be_visible()

    # 安康 accepts, arrives, finishes.
    provider = desktop(browser)
    log_in(provider, live_server, "13700000001")
    provider.goto(f"{live_server}/provider/bookings/{booking_id}")
    act(provider, "accept")
    with live_app.app_context():
        booking = db.session.scalar(sa.select(Booking).where(Booking.id == booking_id))
        starts, ends = booking.starts_at, booking.ends_at
    live_clock.set(starts + timedelta(minutes=5))
    provider.reload()
    act(provider, "check-in")
    live_clock.set(ends + timedelta(minutes=5))
    provider.reload()
    act(provider, "complete")
    # The resident confirms the visit (verified): only now is it payable.
    from tests.programme_helpers import verify_visit

    with live_app.app_context():
        booking = db.session.scalar(sa.select(Booking).where(Booking.id == booking_id))
        verify_visit(db.session, booking, booking.resident)
        db.session.commit()

    # The month is settled: the statement shows the programme's payment (contract price, no fee).
    from billing.settlements import settle

    period = ends.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    year, month = map(int, period.split("-"))
    live_clock.set(datetime(year + month // 12, month % 12 + 1, 1, 6, tzinfo=timezone.utc))
    with live_app.app_context():
        settle(db.session, provider_id, period)
        db.session.commit()
    provider.goto(f"{live_server}/provider/statements/{period}")
    line = provider.locator(f"#line-{booking_id}")
    expect(line).to_contain_text("¥50.00")
    expect(line).to_contain_text("¥0.00")  # no platform fee
    assert_accessible(provider)
    provider.screenshot(path="test-artifacts/provider_programme_statement.png", full_page=True)
    provider.context.close()

    # The official's budget view shows the consumption and a chart.
    official.goto(f"{live_server}/official/programmes/{programme_id}/budget")
    expect(official.locator("#consumed")).to_contain_text("¥50.00")
    expect(official.locator("#remaining")).to_contain_text("¥4,950.00")
    expect(official.locator("#budget-chart svg")).to_be_visible()
    assert_accessible(official)
    official.screenshot(path="test-artifacts/official_programme_budget.png", full_page=True)
    official.context.close()
