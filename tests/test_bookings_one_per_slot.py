"""Known gaps closed: one live booking per resident and slot; auto-confirmations leave an event.

A resident who submits the booking form twice, or whose client repeats the API
request, gets one booking: the page lands on it with a note, the API answers 409
naming it.  The database enforces it with a partial unique index, so it holds
whatever the application does.  (Two requests at the same moment, with real
commits: tests/test_booking_double_submit.py.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clock import local
from sqlalchemy.exc import IntegrityError

from app.auth.services import issue_token
from app.extensions import db
from providers.bookings import services
from providers.bookings.models import Booking, BookingEvent, BookingSlot, BookingStatus as S
from providers.bookings.slots import take_place
from tests import factories
from tests.forms import open_page
from tests.carer_helpers import carer_for


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def taken(listing) -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(BookingSlot.taken), 0))
                             .where(BookingSlot.listing_id == listing.id))


def form_value(starts_at) -> str:
    return starts_at.strftime("%Y-%m-%dT%H:%MZ")


def test_a_second_request_for_the_same_slot_is_refused_naming_the_first(db_session, en):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    starts = factories.next_slot(listing)
    first = factories.booking(listing, resident, starts_at=starts)
    with pytest.raises(services.AlreadyBooked) as refused:
        services.request_booking(db_session, resident, listing_id=listing.id, starts_at=starts, address="x")
    assert refused.value.booking_id == first.id and refused.value.field == "starts_at"
    assert refused.value.status == 409
    db_session.rollback()
    assert (count(Booking), taken(listing)) == (1, 1)
    # Another slot, or another resident on this one, is fine; so is booking it again once cancelled.
    factories.booking(listing, resident, starts_at=starts + timedelta(hours=2))
    factories.booking(listing, starts_at=starts)
    services.cancel_by_resident(db_session, first, resident)
    db_session.commit()
    again = factories.booking(listing, resident, starts_at=starts)
    assert again.id != first.id and again.status == S.REQUESTED


def test_the_double_submit_of_the_last_place_is_named_as_such(db_session):
    """With one place, which the first request took, the second is told about that booking, not
    that the slot was just taken by someone."""
    listing = factories.listing()
    for window in listing.availability:
        window.capacity = 1
    db_session.commit()
    resident = factories.resident(listing.communities[0])
    starts = factories.next_slot(listing)
    first = factories.booking(listing, resident, starts_at=starts)
    with pytest.raises(services.AlreadyBooked) as refused:
        services.request_booking(db_session, resident, listing_id=listing.id, starts_at=starts, address="x")
    assert refused.value.booking_id == first.id


def test_the_database_refuses_a_second_live_booking_of_a_slot(db_session):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    first = factories.booking(listing, resident)
    columns = {c.key: getattr(first, c.key) for c in Booking.__table__.columns if c.key != "id"}
    take_place(db_session, listing, first.starts_at, 2)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(sa.insert(Booking).values(**columns))
    # A closed booking of the slot does not count.
    with db_session.begin_nested():
        db_session.execute(sa.insert(Booking).values(**{**columns, "status": S.CANCELLED_BY_RESIDENT}))


def test_the_page_second_submit_lands_on_the_booking_it_made(client, auth, en, db_session):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    auth.login(resident)
    starts = factories.next_slot(listing)
    data = {"starts_at": form_value(starts), "address": "城里社区3号楼101"}
    page = open_page(client, f"/listings/{listing.id}/book?day={local(starts).date().isoformat()}")  # its day first
    first = page.submit(fields=data)
    assert first.status_code == 302
    second = page.submit(fields=data)  # the same page again: a double click, or a second tab
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "You have already booked this time; here is your booking." in page
    assert (count(Booking), taken(listing)) == (1, 1)


def test_the_api_answers_a_repeated_request_with_409_naming_the_booking(client, en, db_session):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    _token, raw = issue_token(db_session, resident, "test")
    db_session.commit()
    body = {"listing_id": listing.id, "starts_at": factories.next_slot(listing).isoformat(), "address": "x"}
    headers = {"Authorization": f"Bearer {raw}"}
    made = client.post("/api/v1/bookings", json=body, headers=headers)
    assert made.status_code == 201
    before = (count(Booking), count(BookingEvent), taken(listing))
    repeated = client.post("/api/v1/bookings", json=body, headers=headers)
    assert repeated.status_code == 409 and repeated.mimetype == "application/problem+json"
    problem = repeated.get_json()
    booking_id = made.get_json()["id"]
    assert problem["booking_id"] == booking_id and f"#{booking_id}" in problem["detail"]
    assert problem["errors"]["starts_at"] and repeated.headers["Location"] == f"/api/v1/bookings/{booking_id}"
    assert (count(Booking), count(BookingEvent), taken(listing)) == before


def test_auto_confirmation_writes_a_booking_event_like_the_residents(db_session, clock, client, auth, en):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    by_hand, left = (factories.booking(listing, starts_at=factories.next_slot(listing, hour=h)) for h in (9, 13))
    for booking in (by_hand, left):
        services.accept(db_session, booking, staff, carer_id=carer_for(booking))
        clock.set(booking.starts_at)
        services.check_in(db_session, booking, staff)
        clock.set(booking.ends_at)
        services.complete(db_session, booking, staff)
    services.confirm_completion(db_session, by_hand, by_hand.resident)
    db_session.commit()
    clock.advance(hours=72)
    assert services.auto_confirm_completed(db_session) == 1
    assert services.auto_confirm_completed(db_session) == 0  # once
    db_session.commit()
    db_session.refresh(left)
    event = db_session.scalars(sa.select(BookingEvent).where(BookingEvent.booking_id == left.id)
                               .order_by(BookingEvent.id.desc())).first()
    assert (event.from_status, event.to_status, event.actor_id, event.at) == (
        S.COMPLETED, S.COMPLETED, None, left.confirmed_at)
    assert left.auto_confirmed
    events = db_session.scalars(sa.select(BookingEvent.to_status).where(BookingEvent.booking_id == by_hand.id))
    assert list(events).count(S.COMPLETED) == 2  # completed, then confirmed by the resident: no second one
    auth.login(left.resident)
    page = client.get(f"/bookings/{left.id}").get_data(as_text=True)
    assert "Linli (automatic)" in page and "Completion confirmed" in page
