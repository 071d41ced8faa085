"""Eligibility and enrolment: rules, one by one, CSV with broken rows, applications, sensitive data."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.errors import Forbidden, Invalid
from app.extensions import db
from billing.programmes import eligibility
from billing.programmes.eligibility import ProfileFacts
from billing.programmes.models import Enrolment, EnrolmentStatus, ResidentProfile, SensitiveDataAccess
from tests import factories
from tests.forms import submit
from tests.programme_helpers import ELDER, enrolled_resident, open_programme


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in English (the source language)."""
    with force_locale("en"):
        yield


def test_age_is_computed_from_the_birth_date_on_the_local_day():
    assert eligibility.age_on(date(1966, 11, 2), date(2026, 11, 2)) == 60
    assert eligibility.age_on(date(1966, 11, 3), date(2026, 11, 2)) == 59


@pytest.mark.parametrize("facts, message", [
    (ProfileFacts(birth_date=date(1970, 1, 1), lives_alone=True), "under 60"),
    (ProfileFacts(birth_date=date(1950, 1, 1), lives_alone=False), "living alone"),
    (ProfileFacts(birth_date=None, lives_alone=True), "birth date is needed"),
])
def test_an_ineligible_resident_is_refused_with_the_reason(facts, message):
    programme, _a, _l, _m, official, community = open_programme()
    resident = factories.resident(community)
    with pytest.raises(Invalid, match=message):
        eligibility.enrol(db.session, programme, official, phone=resident.phone, facts=facts)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment)) == 0


def test_a_resident_of_another_community_is_refused():
    programme, _a, _l, _m, official, _community = open_programme()
    elsewhere = factories.resident()
    with pytest.raises(Invalid, match="community"):
        eligibility.enrol(db.session, programme, official, phone=elsewhere.phone, facts=ELDER)


def test_csv_enrols_the_good_rows_and_reports_each_broken_row():
    programme, _a, _l, _m, official, community = open_programme()
    good1, good2, young = (factories.resident(community) for _ in range(3))
    csv_text = (
        "phone,birth_date,lives_alone,low_income,disability\n"
        f"{good1.phone},1950-03-14,yes,no,no\n"
        f"{young.phone},1990-01-01,yes,no,no\n"
        "13000000000,1950-01-01,yes,no,no\n"
        f"{good2.phone},1948-13-40,是,否,否\n"
        f"{good2.phone},1948-12-01,是,否,maybe\n"
        f"{good2.phone},1948-12-01,是,否,否\n"
    )
    report = eligibility.enrol_csv(db.session, programme, official, csv_text.encode())
    db.session.commit()
    assert [row.ok for row in report] == [True, False, False, False, False, True]
    assert "under 60" in report[1].message
    assert "No resident has the phone number 13000000000" in report[2].message
    assert "birth_date must be a date" in report[3].message
    assert "disability must be yes or no" in report[4].message
    assert [r.line for r in report if not r.ok] == [3, 4, 5, 6]
    enrolled = set(db.session.scalars(sa.select(Enrolment.resident_id)
                                      .where(Enrolment.status == EnrolmentStatus.ENROLLED)))
    assert enrolled == {good1.id, good2.id}
    assert db.session.get(ResidentProfile, young.id) is None  # a refused row stores nothing


def test_a_csv_without_the_columns_is_refused_as_a_whole():
    programme, _a, _l, _m, official, _c = open_programme()
    with pytest.raises(Invalid, match="missing: lives_alone"):
        eligibility.enrol_csv(db.session, programme, official, b"phone,birth_date\n13800000001,1950-01-01\n")


def test_a_resident_applies_and_an_official_approves_or_rejects_with_a_reason():
    programme, _a, _l, _m, official, community = open_programme()
    applicant, other = factories.resident(community), factories.resident(community)
    enrolment = eligibility.apply(db.session, programme, applicant, ELDER)
    assert enrolment.status == EnrolmentStatus.APPLIED
    eligibility.decide(db.session, enrolment, official, approve=True)
    assert enrolment.status == EnrolmentStatus.ENROLLED
    second = eligibility.apply(db.session, programme, other, ELDER)
    with pytest.raises(Invalid, match="Give a reason"):
        eligibility.decide(db.session, second, official, approve=False)
    eligibility.decide(db.session, second, official, approve=False, reason="户籍不在本社区")
    assert second.status == EnrolmentStatus.REJECTED
    with pytest.raises(Forbidden):
        eligibility.decide(db.session, second, applicant, approve=True)


def test_sensitive_details_are_for_officials_only_and_every_look_is_logged(client, auth, en):
    programme, _a, _l, _m, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    enrolment = db.session.scalar(sa.select(Enrolment))
    url = f"/official/programmes/{programme.id}/enrolments/{enrolment.id}/details"
    auth.login(resident)
    assert client.post(url, data={"reason": "curious"}).status_code == 403  # access rule: no page, no form
    auth.logout()
    auth.login(official)
    manage = f"/official/programmes/{programme.id}"
    assert submit(client, manage, action=url, fields={"reason": ""}).status_code == 422
    page = submit(client, manage, action=url, fields={"reason": "审核资格"})
    assert page.status_code == 200 and "1950-03-14" in page.get_data(as_text=True)
    logged = db.session.scalars(sa.select(SensitiveDataAccess)).all()
    assert [(a.official_id, a.resident_id, a.purpose) for a in logged] == [(official.id, resident.id, "审核资格")]
    # The manage page itself shows no sensitive fact.
    assert "1950-03-14" not in client.get(f"/official/programmes/{programme.id}").get_data(as_text=True)


def test_the_official_csv_upload_page_shows_the_per_row_report(client, auth, en):
    programme, _a, _l, _m, official, community = open_programme()
    good = factories.resident(community)
    auth.login(official)
    data = {"file": (f"phone,birth_date,lives_alone,low_income,disability\n{good.phone},1950-01-01,yes,no,no\n"
                     "139,xx,yes,no,no\n".encode(), "residents.csv")}
    page = submit(client, f"/official/programmes/{programme.id}",
                  action=f"/official/programmes/{programme.id}/enrolments/upload", fields=data).get_data(as_text=True)
    assert 'id="csv-report"' in page and "1 of 2 rows enrolled" in page and "birth_date must be a date" in page


def test_the_demo_programme_loads_once_with_wang_ayi_enrolled(db_session):
    from app.models import User
    from billing.programmes.demo import load_programme_demo
    from billing.programmes.entitlements import active_enrolments, covered_listings
    from providers.demo import load_demo

    load_demo(db_session)
    assert load_programme_demo(db_session) is True
    assert load_programme_demo(db_session) is False
    wang = db_session.scalar(sa.select(User).where(User.phone == "13800000001"))
    enrolment = active_enrolments(db_session, wang)[0]
    assert enrolment.programme.budget_fen == 2_000_000  # 400 visits at ¥50
    assert [a.provider.name for a in enrolment.programme.awards] == ["安康居家养老服务中心"]
    assert any("居家照护" in listing.title for listing in covered_listings(db_session, enrolment))
