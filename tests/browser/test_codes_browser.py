"""Chinese pages show labels, never codes: an official's audit trail, the trial balance's accounts,
each community's own catalogue, and the complaint decision's buttons (issue 14).

Every step runs the journeys' checks (axe-core, and no untranslated English nor raw code in
Chinese); the screenshots ``i14-codes-*`` are kept in test-artifacts/.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from tests.browser import arrange
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import SIZES, Journey

SONGLING = "zichuan-songling"  # 松龄社区 (demo): no other journey enrols anyone there


def _programme_with_a_history(live_app) -> int:
    """An open programme in 松龄社区, awarded, one resident enrolled, the budget topped up."""
    from app.clock import today
    from billing.programmes import eligibility, programmes, topups
    from billing.programmes.eligibility import ProfileFacts
    from billing.programmes.programmes import ProgrammeTerms
    from providers.models import Provider

    phone = arrange.resident(live_app, "孙奶奶", community=SONGLING)
    with live_app.app_context():
        official = arrange.user(arrange.OFFICIAL)
        provider = db.session.scalar(sa.select(Provider).where(Provider.name == "安康居家养老服务中心"))
        start = today().replace(day=1)
        n = arrange.fresh_number()
        programme = programmes.create_programme(db.session, official, ProgrammeTerms(
            title=f"松龄社区助餐服务{n}", service_content="为独居老人送餐上门", start_date=start,
            end_date=programmes.term_limit(start, False), quantity=200, quality_requirements="按时送达",
            unit_price_fen=1500, settlement_method="按月结算", performance_targets="准时率 ≥ 95%",
            breach_liability="不合格扣减 10%", budget_fen=300_000, allowance_per_month=20, min_age=60,
            requires_living_alone=True, category_ids=[arrange.category_id("meal_delivery")],
            community_ids=[arrange.community_id(SONGLING)]))
        programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=1500, quota=200)
        programmes.open_programme(db.session, programme, official)
        eligibility.enrol(db.session, programme, official, phone=phone,
                          facts=ProfileFacts(birth_date=date(1945, 2, 3), lives_alone=True))
        topups.top_up(db.session, programme, official, amount_fen=100_000, reason="报名人数超出预期")
        db.session.commit()
        return programme.id


def _a_paid_visit(live_app, live_clock) -> None:
    """A resident pays 洁美家政 on site for a deep clean and is served: money moves through the
    residents' prepayments, the on-site gateway and the provider's payable."""
    from providers.models import Listing

    phone = arrange.resident(live_app, "周大妈")
    with live_app.app_context():
        listing_id = db.session.scalar(sa.select(Listing.id).where(Listing.title == "上门深度保洁（两小时）"))
    booking_id = arrange.book_first_slot(live_app, phone, listing_id)
    arrange.accept(live_app, booking_id)
    arrange.serve(live_app, live_clock, booking_id, payment_received=True)


def _complaint_waiting_for_a_decision(live_app) -> int:
    """A complaint about a completed demo booking, answered by the provider."""
    from providers.bookings.models import Booking, BookingStatus
    from ratings import complaints
    from ratings.models import Complaint

    with live_app.app_context():
        taken = sa.select(Complaint.booking_id)
        booking = db.session.scalar(
            sa.select(Booking).where(Booking.status == BookingStatus.COMPLETED, Booking.id.not_in(taken))
            .order_by(Booking.completed_at.desc()).limit(1))
        complaint = complaints.file_complaint(db.session, booking.resident, booking.id, kind="late",
                                              description="约好上午九点，十点多才到。")
        complaints.respond(db.session, arrange.staff_of(booking.provider_id), complaint.id,
                           "路上堵车，已向老人道歉。")
        db.session.commit()
        return complaint.id


def _keep(j: Journey, what: str, locator: str | None = None) -> None:
    """The screenshot ``i14-codes-<what>-<size>.png``: the part of the page from ``locator`` on."""
    ARTIFACTS.mkdir(exist_ok=True)
    if locator:  # from its heading, when the heading comes just before it
        j.page.evaluate("""(s) => {
          const el = document.querySelector(s), before = el.previousElementSibling;
          (before && /^H[1-3]$/.test(before.tagName) ? before : el).scrollIntoView({block: 'start'});
        }""", locator)
    path = ARTIFACTS / f"i14-codes-{what}-{j.size}.png"
    j.page.screenshot(path=str(path), full_page=locator is None)


@pytest.mark.parametrize("size", list(SIZES))
def test_an_officials_audit_trail_and_accounts_read_as_labels(browser, live_server, live_app, live_clock, size):
    programme_id = _programme_with_a_history(live_app)
    _a_paid_visit(live_app, live_clock)
    with Journey(browser, live_server, live_app, "codes-official", "zh", size) as j:
        j.log_in(arrange.OFFICIAL)
        j.open(f"/official/programmes/{programme_id}", "programme")
        trail = j.page.locator("#audit")
        for label in ("Programme created", "Provider awarded", "Programme opened", "Resident enrolled",
                      "Budget topped up"):
            expect(trail).to_contain_text(j.say(label))
        expect(trail).not_to_contain_text("programme.")
        _keep(j, "audit-trail", "#audit")

        j.open("/official/billing", "billing")
        balance = j.page.locator("#trial-balance")
        expect(balance).to_contain_text(j.say("Purchase-of-services fund"))
        expect(balance).to_contain_text(j.say("Residents' prepayments held"))
        expect(balance).to_contain_text(j.say("Money held for payments made on site"))
        expect(balance).not_to_contain_text("programme_fund")
        expect(balance).not_to_contain_text("offline")
        _keep(j, "billing-accounts", "#trial-balance")


@pytest.mark.parametrize("size", list(SIZES))
def test_each_demo_community_sees_its_own_catalogue(browser, live_server, live_app, size):
    seen = {}
    for who, phone in (("chengli", "13800000001"), ("banyang", "13800000002")):
        with Journey(browser, live_server, live_app, f"codes-{who}", "zh", size) as j:
            j.log_in(phone)
            j.open("/catalogue", "catalogue")
            seen[who] = set(j.page.locator(".results .card h3").all_inner_texts())
            _keep(j, f"catalogue-{who}")
    assert "家庭医生上门巡诊" in seen["chengli"] and "家庭医生上门巡诊" not in seen["banyang"]
    assert "水电维修上门" in seen["banyang"] and "水电维修上门" not in seen["chengli"]


@pytest.mark.parametrize("size", list(SIZES))
def test_the_complaint_decision_buttons_say_what_they_decide(browser, live_server, live_app, size):
    complaint_id = _complaint_waiting_for_a_decision(live_app)
    with Journey(browser, live_server, live_app, "codes-complaint", "zh", size) as j:
        j.log_in(arrange.OFFICIAL)
        j.open(f"/complaints/{complaint_id}", "complaint")
        expect(j.page.locator("button[value=dismissed]")).to_have_text(j.say("Dismiss the complaint"))
        expect(j.page.locator("button[value=upheld]")).to_have_text(j.say("Uphold the complaint"))
        _keep(j, "complaint-dismiss", "form[action$='/decide']")
