"""Proof of service from the door to the evaluator (issue 13), on phones with Playwright's
geolocation emulation.

Two programme-funded visits of one elder.  The first: the carer checks in at the door, the
resident's page shows the code, the carer types it at check-out, the visit is verified and
the month's settlement pays it.  The second: checked in 5 km away and closed after 10
minutes, it is flagged, drawn into the follow-up queue, the official's call records "not
served", the settlement withholds its money, and the evaluator's penalty report names
that visit as the evidence.  What other people do meanwhile (the month's sample, the
settlement, the evaluation: jobs) runs through the real services on the live database.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import force_locale
from playwright.sync_api import expect

from app.clock import local, now, zone
from app.extensions import db
from billing.programmes import entitlements
from billing.programmes.entitlements import book_with_entitlement
from billing.programmes.models import ReleaseReason, UseStatus
from billing.settlements import settle
from providers.bookings import services as bookings
from providers.bookings.slots import slot_starts_on
from providers.visits.models import FLAG_RULE_LABELS, FlagRule, HomeLocation, LocationMethod, VerifiedBy, VisitFlag, VisitRecord
from ratings.followups.models import CallOutcome, FollowUpCall
from ratings.followups.sampling import sample_month
from ratings.supervision import rules
from ratings.supervision.evaluator import as_of_day
from ratings.supervision.models import PenaltyReport
from ratings.supervision.runs import run_evaluation
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import log_in
from tests.carer_helpers import carer_for
from tests.conftest import PASSWORD
from tests.programme_helpers import enrolled_resident, open_programme

PHONE = {"width": 390, "height": 844}
HOME = {"latitude": 36.644000, "longitude": 117.967000}
FAR = {"latitude": 36.644000 + 5000 / 111_195, "longitude": 117.967000}  # 5 km north


def _arrange(app) -> dict:
    """An open programme awarded to a provider serving for a year, an enrolled elder with a
    home location, and two of her visits booked with the entitlement and accepted."""
    arrange.far_factory_numbers()  # far from the demo's phones, never another test's
    with app.app_context():
        programme, award, listing, staff, official, community = open_programme(contract_price_fen=5000)
        listing.provider.activated_at = now() - timedelta(days=400)  # graded, not "new"
        elder = enrolled_resident(programme, official, community)
        db.session.add(HomeLocation(resident_id=elder.id, lat=HOME["latitude"], lon=HOME["longitude"],
                                    accuracy_m=10, method=LocationMethod.ENTERED, consent_at=now(),
                                    set_by_id=official.id))
        day = local(now()).date() + timedelta(days=2)
        while len(slot_starts_on(listing, day)) < 2:
            day += timedelta(days=1)
        (first, _w1), (second, _w2) = slot_starts_on(listing, day)[:2]
        visits = []
        for starts_at in (first, second):
            booking = book_with_entitlement(db.session, elder, listing_id=listing.id, starts_at=starts_at,
                                            address="城里社区7号楼1单元202")
            bookings.accept(db.session, booking, staff, carer_id=carer_for(booking))
            visits.append(booking)
        db.session.commit()
        return {"staff": staff.phone, "elder": elder.phone, "official": official.phone,
                "provider": listing.provider_id, "good": visits[0].id, "bad": visits[1].id,
                "times": {b.id: (b.starts_at, b.ends_at) for b in visits}}


def _phone(browser, geolocation=None):
    options = {"viewport": PHONE, "locale": "zh-CN"}
    if geolocation:
        options.update(geolocation={**geolocation, "accuracy": 12}, permissions=["geolocation"])
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(15000)
    return page


def _press(page, form, action: str) -> None:
    with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(action)):
        form.locator("button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()


def _check_in(carer, base: str, booking_id: int) -> None:
    carer.goto(base + "/provider/today")
    form = carer.locator(f"#visit-{booking_id} form[action$='/check-in']")
    expect(form).to_have_attribute("data-located", "yes")  # the phone's position is in the form
    _press(carer, form, "/check-in")


def test_a_verified_visit_is_paid_and_a_visit_far_from_home_is_found_not_served_and_withheld(
        browser, live_server, live_app, live_clock):
    world = _arrange(live_app)
    good, bad = world["good"], world["bad"]
    (good_starts, good_ends), (bad_starts, _bad_ends) = world["times"][good], world["times"][bad]

    # 1. At the door: the carer checks in with the phone's location.
    live_clock.set(good_starts - timedelta(minutes=3))
    carer = _phone(browser, HOME)
    log_in(carer, live_server, world["staff"], PASSWORD)
    _check_in(carer, live_server, good)
    assert_accessible(carer, "the carer's visits")

    # The elder's page shows the one-time code; at the end the carer types it in.
    elder = _phone(browser)
    log_in(elder, live_server, world["elder"], PASSWORD)
    elder.goto(f"{live_server}/bookings/{good}")
    code = elder.locator(".visit-code strong").inner_text().strip()
    assert re.fullmatch(r"\d{6}", code)
    live_clock.set(good_ends - timedelta(minutes=1))
    carer.goto(live_server + "/provider/today")
    form = carer.locator(f"#visit-{good} form[action$='/complete']")
    form.locator("input[name$='-code']").fill(code)
    _press(carer, form, "/complete")
    with live_app.app_context():
        record = db.session.get(VisitRecord, good)
        assert record.verified_by == VerifiedBy.CODE and record.check_in_distance_m == 0
        assert not db.session.scalars(sa.select(VisitFlag).where(VisitFlag.booking_id == good)).all()
    carer.context.close()

    # 2. The second visit: checked in 5 km away, closed after 10 minutes with an excuse, no code.
    live_clock.set(bad_starts + timedelta(minutes=1))
    faraway = _phone(browser, FAR)
    log_in(faraway, live_server, world["staff"], PASSWORD)
    _check_in(faraway, live_server, bad)
    live_clock.advance(minutes=10)
    faraway.goto(live_server + "/provider/today")
    form = faraway.locator(f"#visit-{bad} form[action$='/complete']")
    form.locator("textarea[name$='-short_reason']").fill("老人临时外出")
    _press(faraway, form, "/complete")
    faraway.context.close()
    with live_app.app_context():
        flagged = set(db.session.scalars(sa.select(VisitFlag.rule).where(VisitFlag.booking_id == bad)))
        assert {FlagRule.OUTSIDE_RADIUS, FlagRule.SHORT_DURATION, FlagRule.NO_CODE} <= flagged
        assert db.session.get(VisitRecord, bad).check_in_distance_m >= 4900

    # 3. The month ends; on the 1st the sample is drawn: every flagged visit is in the queue.
    month = local(bad_starts).strftime("%Y-%m")
    year, number = map(int, month.split("-"))
    first_of_next = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone())
    live_clock.set(datetime.combine(first_of_next.date(), time(9), tzinfo=zone()))
    with live_app.app_context():
        sample_month(db.session, month)
        db.session.commit()

    # The official calls the elder and records "not served".
    official = _phone(browser)
    log_in(official, live_server, world["official"], PASSWORD)
    official.goto(live_server + "/follow-ups")
    card = official.locator(f"#call-{bad}")
    expect(card).to_be_visible()
    card.locator("input[value=not_served]").check()
    card.locator("select").select_option("1")
    card.locator("textarea").fill("老人说那天没有人来")
    card.locator("form.stack button[type=submit]").click()
    expect(official.locator(".flash-success")).to_be_visible()
    assert_accessible(official, "the call queue")
    with live_app.app_context():
        call = db.session.scalar(sa.select(FollowUpCall).where(FollowUpCall.booking_id == bad))
        assert call.outcome == CallOutcome.NOT_SERVED

    # 4. The month is settled: the verified visit is paid, the one not served is withheld.
    live_clock.set(datetime.combine(first_of_next.date() + timedelta(days=1), time(6), tzinfo=zone()))
    with live_app.app_context():
        settle(db.session, world["provider"], month)
        db.session.commit()
    provider = _phone(browser)
    log_in(provider, live_server, world["staff"], PASSWORD)
    provider.goto(f"{live_server}/provider/statements/{month}")
    expect(provider.locator(f"#line-{good}")).to_contain_text("¥50.00")
    expect(provider.locator(f"#line-{bad}")).to_have_count(0)  # not paid
    # At the month's end it was unverified and flagged: the statement lists it as pending, why.
    with live_app.test_request_context(), force_locale("zh"):
        far_label = str(FLAG_RULE_LABELS[FlagRule.OUTSIDE_RADIUS])
    expect(provider.locator(f"#pending-{bad}")).to_contain_text(far_label)
    with live_app.app_context():  # and the call withheld its money: the entitlement went back unpaid
        use = entitlements.use_of(db.session, bad)
        assert use.status == UseStatus.RELEASED and use.release_reason == ReleaseReason.NOT_SERVED
        assert entitlements.use_of(db.session, good).status == UseStatus.CONSUMED
    provider.screenshot(path="test-artifacts/proof_of_service_statement.png", full_page=True)

    # 5. The evaluator's run: a not-served finding is a breach, and its report names that visit.
    with live_app.app_context():
        rule_set = rules.current(db.session)
        run_evaluation(db.session, as_of_day(first_of_next.date() + timedelta(days=1), rule_set), trigger="cli")
        db.session.commit()
        report = db.session.scalar(sa.select(PenaltyReport).where(PenaltyReport.provider_id == world["provider"])
                                   .order_by(PenaltyReport.id.desc()))
        assert report is not None
        report_id = report.id
    official.goto(f"{live_server}/official/supervision/reports/{report_id}")
    evidence = official.locator("main")
    expect(evidence).to_contain_text(f"#{bad}")
    expect(evidence).not_to_contain_text(f"#{good} ")
    official.screenshot(path="test-artifacts/proof_of_service_report.png", full_page=True)
    for page in (elder, official, provider):
        page.context.close()
