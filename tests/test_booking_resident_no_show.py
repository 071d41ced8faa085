"""Issue 12, item 3: a resident's no-show only after the provider arrived.

A provider that never checked in could record "resident not there" at start +
15 minutes: that closed the booking, kept the fee and blocked the resident's own
"nobody came" report.  Now the record needs the provider's check-in (the machine:
in service → resident not there; accepted → resident not there is gone), and the
grace waited at the door after it; the page, the API and the service refuse it
with the same message and change nothing.  The resident disputes a record with a
complaint, which the provider answers and an official decides.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.services import issue_token
from app.errors import IllegalTransition, Invalid
from app.extensions import db
from app.notifications import Notification
from providers.bookings import services
from providers.bookings.models import BOOKING, Booking, BookingEvent, BookingStatus as S
from ratings.models import Complaint, ComplaintKind
from tests import factories
from tests.form_submit import submit
from tests.carer_helpers import carer_for

# The assertions read the English messages.
pytestmark = pytest.mark.usefixtures("english_messages")

CHECK_IN_FIRST = ("Check in first: you can record that the resident was not there only once you have "
                  "checked in at their address.")


def accepted():
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1))
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    db.session.commit()
    return booking, staff


def bearer(user) -> dict:
    _, raw = issue_token(db.session, user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def written(booking_id: int) -> tuple:
    db.session.expire_all()
    booking = db.session.get(Booking, booking_id)
    events = db.session.scalar(sa.select(sa.func.count()).select_from(BookingEvent)
                               .where(BookingEvent.booking_id == booking_id))
    notes = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    return booking.status, booking.closed_at, events, notes


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_the_machine_reaches_resident_absence_only_from_in_service():
    assert not BOOKING.can(S.ACCEPTED, S.NO_SHOW_RESIDENT)
    assert BOOKING.can(S.IN_SERVICE, S.NO_SHOW_RESIDENT)
    assert {old for old in S if BOOKING.can(old, S.NO_SHOW_RESIDENT)} == {S.IN_SERVICE}


def test_without_check_in_page_api_and_service_refuse_and_nothing_changes(client, auth, en, db_session, clock):
    booking, staff = accepted()
    clock.set(booking.starts_at + timedelta(minutes=16))  # the old rule's moment: start + grace
    before = written(booking.id)

    with pytest.raises(IllegalTransition) as refused:
        services.mark_resident_no_show(db_session, booking, staff)
    assert str(refused.value) == CHECK_IN_FIRST
    db_session.rollback()
    assert written(booking.id) == before

    api = client.post(f"/api/v1/bookings/{booking.id}/actions/resident-no-show", headers=bearer(staff), json={})
    assert api.status_code == 409 and api.get_json()["detail"] == CHECK_IN_FIRST
    assert written(booking.id) == before

    auth.login(staff)
    page = client.get(f"/provider/bookings/{booking.id}")
    assert f"/provider/bookings/{booking.id}/resident-no-show" not in page.get_data(as_text=True)  # no button
    forced = client.post(f"/provider/bookings/{booking.id}/resident-no-show", data={"reason": "没人开门"})
    assert forced.status_code == 409 and CHECK_IN_FIRST in text(forced)
    assert written(booking.id) == before
    auth.logout()

    # The resident's own report is still open to them.
    services.report_provider_no_show(db_session, db_session.get(Booking, booking.id), booking.resident)
    db_session.commit()
    assert db_session.get(Booking, booking.id).no_show_reported_at is not None


def test_after_check_in_and_the_wait_the_rendered_button_records_it(client, auth, en, db_session, clock):
    booking, staff = accepted()
    clock.set(booking.starts_at + timedelta(minutes=20))
    services.check_in(db_session, booking, staff)  # arrives 20 minutes late: waits 15 more
    db_session.commit()
    auth.login(staff)
    clock.set(booking.starts_at + timedelta(minutes=34))
    early = client.get(f"/provider/bookings/{booking.id}")
    assert f"/provider/bookings/{booking.id}/resident-no-show" not in early.get_data(as_text=True)
    assert "If the resident is not there, you can record it from" in text(early)
    api = client.post(f"/api/v1/bookings/{booking.id}/actions/resident-no-show", headers=bearer(staff), json={})
    assert api.status_code == 422 and "after your check-in" in api.get_json()["detail"]
    assert written(booking.id)[0] == S.IN_SERVICE

    clock.set(booking.starts_at + timedelta(minutes=35))
    page = client.get(f"/provider/bookings/{booking.id}")
    done = submit(client, page.get_data(as_text=True), f"/provider/bookings/{booking.id}/resident-no-show",
                  reason="敲门十五分钟无人应答")
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    assert written(booking.id)[0] == S.NO_SHOW_RESIDENT


def test_checking_in_after_the_residents_report_does_not_turn_it_around(db_session, clock):
    booking, staff = accepted()
    clock.set(booking.starts_at + timedelta(minutes=16))
    services.report_provider_no_show(db_session, booking, booking.resident)
    clock.set(booking.starts_at + timedelta(minutes=40))
    services.check_in(db_session, booking, staff)
    db_session.commit()
    clock.set(booking.starts_at + timedelta(hours=2))
    before = written(booking.id)
    with pytest.raises(IllegalTransition, match="reported that nobody came before you checked in"):
        services.mark_resident_no_show(db_session, db_session.get(Booking, booking.id), staff)
    db_session.rollback()
    assert written(booking.id) == before


def test_too_early_after_check_in_is_invalid(db_session, clock):
    booking, staff = accepted()
    clock.set(booking.starts_at - timedelta(minutes=30))
    services.check_in(db_session, booking, staff)
    clock.set(booking.starts_at + timedelta(minutes=14))
    with pytest.raises(Invalid):
        services.mark_resident_no_show(db_session, booking, staff)


def test_the_resident_disputes_it_with_a_complaint_an_official_sees(client, auth, en, db_session, clock):
    booking, staff = accepted()
    clock.set(booking.starts_at)
    services.check_in(db_session, booking, staff)
    clock.set(booking.starts_at + timedelta(minutes=15))
    services.mark_resident_no_show(db_session, booking, staff, "无人应答")
    db_session.commit()

    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}")
    assert "If you were there, dispute it with a complaint" in text(page)
    assert f'href="/bookings/{booking.id}/complain"' in page.get_data(as_text=True)
    form = client.get(f"/bookings/{booking.id}/complain")
    assert form.status_code == 200
    filed = submit(client, form.get_data(as_text=True), f"/bookings/{booking.id}/complain",
                   kind=ComplaintKind.NO_SHOW.value, description="我一直在家，没有人敲门。")
    assert filed.status_code == 302, filed.get_data(as_text=True)[:500]
    complaint = db_session.scalar(sa.select(Complaint).where(Complaint.booking_id == booking.id))
    assert complaint is not None and complaint.kind == ComplaintKind.NO_SHOW
    auth.logout()

    auth.login(factories.official())
    queue = client.get("/official/complaints")
    assert queue.status_code == 200 and f"/complaints/{complaint.id}" in queue.get_data(as_text=True)
