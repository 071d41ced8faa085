"""The follow-up call queue: who sees which calls, the phone shown on a logged POST,
recording outcomes (retries, verification, the signal), and every bad input refused
with nothing changed.  Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.clock import now
from app.extensions import db
from app.models import Role
from providers.bookings.models import ContactAccess
from providers.visits.models import VerifiedBy, VisitRecord
from ratings.followups.models import (
    CallOutcome,
    CallStatus,
    EvaluatorAppointment,
    FollowUpAttempt,
    FollowUpCall,
    follow_up_recorded,
)
from ratings.followups.sampling import sample_month
from tests import factories
from tests.flag_helpers import programme_visits
from tests.programme_helpers import open_programme
from tests.rendered_forms import submit

MONTH = "2026-11"


def queued_visit(verified_by=None):
    """A programme visit closed without a code, sampled into the queue: (call, programme, official)."""
    programme, award, listing, _member, official, _community = open_programme()
    (visit,) = programme_visits(1, listing, award, verified_by=verified_by)
    sample_month(db.session, MONTH)
    db.session.commit()
    return db.session.scalar(sa.select(FollowUpCall).where(FollowUpCall.booking_id == visit.id)), programme, official


def evaluator_for(programme, official, *, ended: bool = False):
    user = factories.user(Role.EVALUATOR)
    db.session.add(EvaluatorAppointment(programme_id=programme.id, user_id=user.id, appointed_by_id=official.id,
                                        ended_at=now() if ended else None))
    db.session.commit()
    return user


@pytest.fixture
def recorded():
    seen = []

    def receiver(session, call, actor):
        seen.append((call.id, call.outcome, actor.id))

    follow_up_recorded.connect(receiver)
    yield seen
    follow_up_recorded.disconnect(receiver)


def attempts_of(call) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpAttempt)
                             .where(FollowUpAttempt.call_id == call.id))


def test_the_queue_masks_the_phone_until_shown_and_showing_it_is_logged(client, auth, en):
    call, _programme, official = queued_visit()
    phone = call.booking.resident.phone
    auth.login(official)
    page = client.get("/follow-ups")
    text = page.get_data(as_text=True)
    assert f'id="call-{call.booking_id}"' in text and phone not in text and phone[:3] in text
    shown = submit(client, page, f"#call-{call.booking_id} form.inline")
    assert shown.status_code == 200 and phone in shown.get_data(as_text=True)
    access = db.session.scalar(sa.select(ContactAccess).where(ContactAccess.booking_id == call.booking_id))
    assert access.official_id == official.id
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "follow_up.phone_viewed")) is not None


def test_served_verifies_the_visit_and_sends_the_outcome(client, auth, en, recorded):
    call, _programme, official = queued_visit()
    auth.login(official)
    page = client.get("/follow-ups")
    prefix = f"call-{call.booking_id}"
    response = submit(client, page, f"#{prefix} form.stack", **{
        f"{prefix}-outcome": "served", f"{prefix}-satisfaction": "5", f"{prefix}-note": "老人说很满意"})
    assert response.status_code == 302
    db.session.refresh(call)
    assert (call.status, call.outcome, call.satisfaction, call.attempts) == (CallStatus.DONE, CallOutcome.SERVED, 5, 1)
    record = db.session.get(VisitRecord, call.booking_id)
    assert record.verified_by == VerifiedBy.FOLLOW_UP and record.verified_actor_id == official.id
    assert recorded == [(call.id, CallOutcome.SERVED, official.id)]
    assert db.session.scalar(sa.select(AuditEvent.object_id).where(AuditEvent.action == "follow_up.recorded")) == call.id


def test_a_visit_verified_by_its_code_stays_verified_by_it(recorded):
    from ratings.followups import calls

    call, _programme, official = queued_visit(verified_by=VerifiedBy.CODE)
    calls.record_call(db.session, call, official, outcome="partly", satisfaction="3")
    assert db.session.get(VisitRecord, call.booking_id).verified_by == VerifiedBy.CODE


def test_served_partly_does_not_verify_the_visit(recorded):
    """A visit the resident says was cut short is not paid in full on that word: it stays
    unverified (pending) until an official clears it, or lapses unpaid."""
    from ratings.followups import calls

    call, _programme, official = queued_visit()
    calls.record_call(db.session, call, official, outcome="partly", satisfaction="3")
    assert call.outcome == CallOutcome.PARTLY and call.status == CallStatus.DONE
    assert not db.session.get(VisitRecord, call.booking_id).is_verified


def test_a_finished_calls_phone_is_not_shown_again(client, auth):
    from ratings.followups import calls

    call, _programme, official = queued_visit()
    auth.login(official)
    queue = client.get("/follow-ups")  # opened while the call was open
    calls.record_call(db.session, call, official, outcome="served", satisfaction="5")
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "follow_up.phone_viewed"))
    # The stale page's "show the number" button.
    response = submit(client, queue, f"form[action='/follow-ups/visits/{call.booking_id}/phone']")
    assert response.status_code == 409 and call.booking.resident.phone not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "follow_up.phone_viewed")) == before


def test_not_served_is_final_and_leaves_the_visit_unverified(client, auth, recorded):
    call, _programme, official = queued_visit()
    auth.login(official)
    prefix = f"call-{call.booking_id}"
    submit(client, client.get("/follow-ups"), f"#{prefix} form.stack",
           **{f"{prefix}-outcome": "not_served", f"{prefix}-satisfaction": "1"})
    db.session.refresh(call)
    assert call.outcome == CallOutcome.NOT_SERVED
    assert db.session.get(VisitRecord, call.booking_id).verified_at is None
    assert recorded == [(call.id, CallOutcome.NOT_SERVED, official.id)]


def test_unreachable_is_retried_until_the_last_attempt(app, recorded):
    from ratings.followups import calls

    call, _programme, official = queued_visit()
    assert app.config["FOLLOW_UP_MAX_ATTEMPTS"] == 3
    for expected in (CallStatus.RETRY, CallStatus.RETRY, CallStatus.DONE):
        calls.record_call(db.session, call, official, outcome="unreachable")
        assert call.status == expected
    assert call.outcome == CallOutcome.UNREACHABLE and call.satisfaction is None and attempts_of(call) == 3
    assert recorded == [(call.id, CallOutcome.UNREACHABLE, official.id)]


def test_a_missing_satisfaction_is_shown_beside_its_field_and_nothing_changes(client, auth, en, recorded):
    call, _programme, official = queued_visit()
    auth.login(official)
    prefix = f"call-{call.booking_id}"
    response = submit(client, client.get("/follow-ups"), f"#{prefix} form.stack", **{f"{prefix}-outcome": "served"})
    assert response.status_code == 422
    assert f'id="{prefix}-satisfaction-error"' in response.get_data(as_text=True)
    db.session.refresh(call)
    assert call.attempts == 0 and attempts_of(call) == 0 and recorded == []


def test_a_call_already_done_refuses_another_result(client, auth, en):
    call, _programme, official = queued_visit()
    auth.login(official)
    prefix = f"call-{call.booking_id}"
    page = client.get("/follow-ups")
    submit(client, page, f"#{prefix} form.stack", **{f"{prefix}-outcome": "served", f"{prefix}-satisfaction": "4"})
    again = submit(client, page, f"#{prefix} form.stack",
                   **{f"{prefix}-outcome": "not_served", f"{prefix}-satisfaction": "1"})
    assert again.status_code == 409 and "already recorded" in again.get_data(as_text=True)
    db.session.refresh(call)
    assert call.outcome == CallOutcome.SERVED and attempts_of(call) == 1


def test_a_result_for_a_visit_not_in_the_queue_is_404_and_changes_nothing(client, auth, en):
    call, _programme, official = queued_visit()
    auth.login(official)
    prefix = f"call-{call.booking_id}"
    page = client.get("/follow-ups")
    other = factories.booking()
    html = page.get_data(as_text=True).replace(f"/follow-ups/visits/{call.booking_id}/record",
                                                f"/follow-ups/visits/{other.id}/record")
    from tests.form_submit import submit as submit_html

    response = submit_html(client, html, f"/follow-ups/visits/{other.id}/record",
                           **{f"{prefix}-outcome": "served", f"{prefix}-satisfaction": "4"})
    assert response.status_code == 404
    assert "not in your follow-up queue" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpAttempt)) == 0


def test_an_evaluator_works_only_the_calls_of_the_programmes_that_appointed_them(client, auth, en):
    mine, programme, official = queued_visit()
    theirs, _other_programme, _ = queued_visit()
    evaluator = evaluator_for(programme, official)
    auth.login(evaluator)
    page = client.get("/follow-ups")
    text = page.get_data(as_text=True)
    assert f'id="call-{mine.booking_id}"' in text and f'id="call-{theirs.booking_id}"' not in text
    assert "/official/visits/" not in text
    assert client.post(f"/follow-ups/visits/{theirs.booking_id}/phone").status_code == 404
    assert client.post(f"/follow-ups/visits/{theirs.booking_id}/record",
                       data={f"call-{theirs.booking_id}-outcome": "served"}).status_code == 404
    prefix = f"call-{mine.booking_id}"
    assert submit(client, page, f"#{prefix} form.stack", **{
        f"{prefix}-outcome": "partly", f"{prefix}-satisfaction": "3"}).status_code == 302


def test_an_ended_appointment_shows_no_calls(client, auth, en):
    call, programme, official = queued_visit()
    auth.login(evaluator_for(programme, official, ended=True))
    assert f'id="call-{call.booking_id}"' not in client.get("/follow-ups").get_data(as_text=True)


def test_residents_and_providers_may_not_open_the_queue(client, auth):
    call, _programme, _official = queued_visit()
    for user in (call.booking.resident, factories.staff(call.booking.provider)):
        auth.login(user)
        assert client.get("/follow-ups").status_code == 403
        assert client.post(f"/follow-ups/visits/{call.booking_id}/phone").status_code == 403
        auth.logout()


def test_the_queue_runs_the_same_queries_for_one_or_six_calls(client, auth):
    from tests.test_flag_pages import counting_queries

    call, _programme, official = queued_visit()
    auth.login(official)

    def queries() -> int:
        db.session.expire_all()  # as after the commits that arrange more calls
        with counting_queries() as statements:
            assert client.get("/follow-ups").status_code == 200
        return len(statements)

    few = queries()
    for _ in range(5):
        queued_visit()
    assert queries() == few


def test_an_evaluator_is_appointed_once_and_again_after_the_appointment_ended():
    from app.errors import Conflict, Invalid
    from app.models import Role
    from ratings.followups.appointments import appoint_evaluator, end_appointment
    from tests.programme_helpers import open_programme

    programme, _award, _listing, _staff, official, _community = open_programme()
    evaluator = factories.user(Role.EVALUATOR)
    first = appoint_evaluator(db.session, programme.id, official, evaluator.phone)
    with pytest.raises(Conflict):
        appoint_evaluator(db.session, programme.id, official, evaluator.phone)
    with pytest.raises(Invalid):
        appoint_evaluator(db.session, programme.id, official, official.phone)  # not an evaluator
    end_appointment(db.session, programme.id, first.id, official)
    again = appoint_evaluator(db.session, programme.id, official, evaluator.phone)
    assert again.id == first.id and again.ended_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "programme.evaluator_appointed")) == 2
