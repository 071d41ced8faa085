"""Issue 15, the remaining reminders through the outbox, each once by its deduplication key and
none for an item decided or cancelled first: respond-by (providers' staff), the appeal deadline
(a sanctioned provider's staff), a programme's budget about to run out (officials)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.delivery.models import OutboxMessage
from app.extensions import db
from billing.programmes import entitlements
from billing.programmes.budget_alerts import send_budget_alerts
from providers.bookings import services as bookings
from providers.bookings.reminders import send_respond_by_reminders
from ratings.supervision import review
from ratings.supervision.appeal_reminders import send_appeal_deadline_reminders
from ratings.supervision.models import ReportStatus
from tests import factories
from tests.carer_helpers import carer_for
from tests.programme_helpers import enrolled_resident, open_programme
from tests.sanction_helpers import provider_with_staff, report

pytestmark = pytest.mark.usefixtures("english_messages")


def rows(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template)
                                   .order_by(OutboxMessage.id)))


# --- respond-by ---------------------------------------------------------------------------------


def requested(db_session):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    factories.staff(listing.provider, is_owner=False)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=2))
    return booking, staff


def test_a_request_near_its_respond_by_time_reminds_every_staff_member_once(db_session, clock):
    booking, _second = requested(db_session)
    assert booking.respond_by - booking.requested_at == timedelta(hours=4)
    clock.set(booking.respond_by - timedelta(hours=2))
    assert send_respond_by_reminders(db_session) == 0  # not yet
    clock.set(booking.respond_by - timedelta(minutes=55))
    assert send_respond_by_reminders(db_session) == 2  # the owner and the second staff member
    clock.advance(minutes=5)
    send_respond_by_reminders(db_session)  # a re-run (or a second scheduler) adds nothing
    sent = rows("respond_by_reminder")
    assert len(sent) == 2 and {m.dedup_key.rsplit("-", 1)[0] for m in sent} == {f"respond-by-{booking.id}"}
    assert sent[0].params["booking"] == booking.id and sent[0].expires_at == booking.respond_by
    assert sent[0].params["service"] == booking.listing.title


def test_a_request_answered_or_cancelled_first_gets_no_reminder(db_session, clock):
    accepted, staff = requested(db_session)
    bookings.accept(db_session, accepted, staff, carer_id=carer_for(accepted))
    cancelled, _ = requested(db_session)
    bookings.cancel_by_resident(db_session, cancelled, cancelled.resident)
    db_session.commit()
    clock.set(accepted.respond_by - timedelta(minutes=30))
    assert send_respond_by_reminders(db_session) == 0
    assert rows("respond_by_reminder") == []


# --- the appeal deadline ------------------------------------------------------------------------


def confirmed_report():
    provider, staff = provider_with_staff()
    made = report(provider)
    official = factories.official()
    confirmed = review.confirm(db.session, made.id, official)
    db.session.commit()
    return made, confirmed, staff, official


def test_the_appeal_deadline_is_reminded_48_hours_before_once(db_session, clock):
    made, confirmed, staff, _official = confirmed_report()
    deadline = confirmed.appeal_deadline
    clock.set(deadline - timedelta(hours=49))
    assert send_appeal_deadline_reminders(db_session) == 0
    clock.set(deadline - timedelta(hours=47))
    assert send_appeal_deadline_reminders(db_session) == 1
    clock.advance(hours=1)
    assert send_appeal_deadline_reminders(db_session) == 1  # due again, enqueued once
    (sent,) = rows("appeal_deadline")
    assert sent.dedup_key == f"appeal-deadline-{made.id}-{staff.id}" and sent.recipient == staff.phone
    assert sent.params["report"] == made.id and sent.params["deadline"].endswith("23:59")
    assert sent.expires_at == deadline
    clock.set(deadline + timedelta(minutes=1))
    assert send_appeal_deadline_reminders(db_session) == 0  # the window closed


def test_an_appealed_or_dismissed_report_gets_no_reminder(db_session, clock):
    appealed, confirmed, _staff, official = confirmed_report()
    appealed.transition_to(ReportStatus.APPEALED)
    provider, _ = provider_with_staff()
    dismissed = report(provider)
    review.dismiss(db.session, dismissed.id, official, reason="数据有误")
    db_session.commit()
    clock.set(confirmed.appeal_deadline - timedelta(hours=24))
    assert send_appeal_deadline_reminders(db_session) == 0
    assert rows("appeal_deadline") == []


# --- a programme's budget about to run out --------------------------------------------------


def _reserve(resident, listing, member):
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, 1), address="3号楼")
    bookings.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()


def test_officials_are_told_once_when_the_budget_runs_out_within_two_weeks(db_session, clock):
    programme, _award, listing, member, official, community = open_programme(budget_fen=30_000,
                                                                              contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    opened = clock.now()
    _reserve(resident, listing, member)
    clock.set(opened + timedelta(days=7))
    assert send_budget_alerts(db_session) == 0  # 24,000 left at 6,000 a week: a month away
    for week in (1, 2, 3):
        clock.set(opened + timedelta(weeks=week))
        _reserve(resident, listing, member)
    clock.set(opened + timedelta(weeks=3, days=1))
    count = send_budget_alerts(db_session)  # 6,000 left at about 6,000 a week
    assert count >= 1
    assert send_budget_alerts(db_session) == count  # due again, enqueued once
    sent = [m for m in rows("budget_running_out") if m.user_id == official.id]
    assert len(sent) == 1 and sent[0].params["programme"] == programme.title
    assert sent[0].dedup_key == f"budget-running-out-{programme.id}-30000-{official.id}"
    assert len(rows("budget_running_out")) == count


def test_a_closed_programme_gets_no_budget_alert(db_session, clock):
    from billing.programmes.models import ProgrammeStatus

    programme, _award, listing, member, official, community = open_programme(budget_fen=12_000,
                                                                              contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    _reserve(resident, listing, member)
    programme.status = ProgrammeStatus.CLOSED
    programme.closed_at = clock.now()
    db_session.commit()
    clock.advance(days=2)
    assert send_budget_alerts(db_session) == 0
