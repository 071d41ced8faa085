"""Human review of a grade: asked within 6 months with a reason, one open request per grade,
decided by an official with a reason, the provider told; the pages' rendered forms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from ratings.supervision import grade_reviews
from ratings.supervision.dueprocess_models import GradeReview, ReviewOutcome
from ratings.supervision.models import Grade
from tests import factories
from tests.forms import open_page, submit
from tests.helpers import count, store_grade
from tests.rating_helpers import audit_events, notifications
from tests.sanction_helpers import provider_with_staff

AS_OF = datetime(2026, 9, 30, 16, 0, tzinfo=timezone.utc)  # 2026-10-01 local midnight


def graded(grade=Grade.QUALIFIED):
    provider, staff = provider_with_staff()
    snapshot = store_grade(provider.id, grade, as_of=AS_OF)
    db.session.commit()
    return provider, staff, snapshot


def test_a_provider_asks_and_an_official_changes_the_grade():
    provider, staff, snapshot = graded()
    official = factories.official()
    asked = grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "迟到是因为暴雨封路")
    assert asked.is_open and audit_events("supervision.grade_review.request", asked.id)
    assert [r.id for r in grade_reviews.queue(db.session)] == [asked.id]
    decided = grade_reviews.decide(db.session, official, asked.id, "changed", "核实属实", new_grade="good")
    assert (decided.outcome, decided.new_grade, decided.decided_by_id) == (ReviewOutcome.CHANGED, Grade.GOOD,
                                                                          official.id)
    assert snapshot.grade == Grade.QUALIFIED  # the run is never edited
    assert grade_reviews.reviewed_grade(snapshot, [decided]) == Grade.GOOD
    assert grade_reviews.queue(db.session) == []
    event, = audit_events("supervision.grade_review.decide", asked.id)
    assert event.actor_id == official.id and event.reason == "核实属实"
    assert notifications("supervision.grade_review", staff.id)


def test_six_months_and_not_a_day_more(clock):
    provider, staff, snapshot = graded()
    clock.set(datetime(2027, 3, 31, 15, 59, tzinfo=timezone.utc))  # 2027-03-31 23:59 local: still in time
    grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "最后一天")
    second = store_grade(provider.id, Grade.UNQUALIFIED, as_of=AS_OF + timedelta(days=1))
    clock.set(datetime(2027, 4, 1, 16, 0, tzinfo=timezone.utc))  # 6 months after 2026-10-02
    with pytest.raises(Invalid) as late:
        grade_reviews.request_review(db.session, staff, provider.id, second.id, "太晚了")
    assert late.value.field == "reason"
    assert count(GradeReview) == 1


def test_one_open_request_per_grade_and_bad_input_is_refused():
    provider, staff, snapshot = graded()
    official = factories.official()
    with pytest.raises(Invalid) as no_reason:
        grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "  ")
    assert no_reason.value.field == "reason"
    _other, other_staff = provider_with_staff()
    with pytest.raises(NotFound):
        grade_reviews.request_review(db.session, other_staff, _other.id, snapshot.id, "别人的等级")
    first = grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "请复核")
    with pytest.raises(Conflict):
        grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "再问一次")
    with pytest.raises(Invalid) as no_outcome:
        grade_reviews.decide(db.session, official, first.id, "maybe", "理由")
    assert no_outcome.value.field == "outcome"
    with pytest.raises(Invalid) as same:
        grade_reviews.decide(db.session, official, first.id, "changed", "理由", new_grade="qualified")
    assert same.value.field == "new_grade"
    with pytest.raises(Invalid) as no_text:
        grade_reviews.decide(db.session, official, first.id, "upheld", "")
    assert no_text.value.field == "reason"
    with pytest.raises(Forbidden):
        grade_reviews.decide(db.session, staff, first.id, "upheld", "我自己来")
    assert first.is_open
    grade_reviews.decide(db.session, official, first.id, "upheld", "数据无误")
    with pytest.raises(Conflict):
        grade_reviews.decide(db.session, official, first.id, "changed", "改判", new_grade="good")
    again = grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "有新证据")  # decided: may ask again
    assert again.is_open


def test_the_database_keeps_one_open_request_per_grade():
    provider, staff, snapshot = graded()
    grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "请复核")
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.add(GradeReview(snapshot_id=snapshot.id, provider_id=provider.id, requested_by_id=staff.id,
                                   reason="并发的第二个"))
        db.session.flush()


def test_the_pages_ask_and_decide_through_their_rendered_forms(client, auth, en):
    provider, staff, snapshot = graded()
    official = factories.official()
    db.session.commit()
    auth.login(staff)
    action = f"/provider/supervision/grades/{snapshot.id}/review"
    empty = submit(client, "/provider/supervision/grades", action=action, fields={"reason": ""})
    assert empty.status_code == 422 and "Give a reason." in empty.get_data(as_text=True)
    assert submit(client, "/provider/supervision/grades", action=action,
                  fields={"reason": "暴雨封路"}).status_code == 302
    page = open_page(client, "/provider/supervision/grades")
    assert f'id="waiting-{snapshot.id}"' in page.response.get_data(as_text=True)
    asked = db.session.scalar(sa.select(GradeReview))
    auth.login(official)
    decide = f"/official/supervision/grade-reviews/{asked.id}/decide"
    bad = submit(client, "/official/supervision/grade-reviews", action=decide,
                 fields={"outcome": "changed", "reason": "核实"})
    assert bad.status_code == 422 and "Choose the new grade." in bad.get_data(as_text=True)
    ok = submit(client, "/official/supervision/grade-reviews", action=decide,
                fields={"outcome": "changed", "new_grade": "good", "reason": "核实属实"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(GradeReview, asked.id).new_grade == Grade.GOOD
    auth.login(staff)
    text = client.get("/provider/supervision/grades").get_data(as_text=True)
    assert "Grade changed" in text and "Good (良好)" in text


def test_a_changed_grade_is_what_the_league_and_the_scorecard_show(client, auth, en):
    from ratings.supervision.league import league

    provider, staff, snapshot = graded(Grade.UNQUALIFIED)
    asked = grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "两项超标均因停电")
    _run, rows = league(db.session)
    assert [r.grade for r in rows if r.provider.id == provider.id] == [Grade.UNQUALIFIED]
    grade_reviews.decide(db.session, factories.official(), asked.id, "changed", "停电属实", new_grade="qualified")
    db.session.commit()
    _run, rows = league(db.session)
    assert [r.grade for r in rows if r.provider.id == provider.id] == [Grade.QUALIFIED]
    auth.login(staff)
    page = client.get("/provider/scorecard").get_data(as_text=True)
    assert 'id="supervision-grade-changed"' in page and "Qualified (合格)" in page
