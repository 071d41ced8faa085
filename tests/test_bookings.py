"""Bookings: the state machine, deadlines and lateness as recorded facts, capacity."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.errors import Conflict, IllegalTransition, Invalid, NotFound
from app.notifications import Notification
from providers.bookings import services
from providers.bookings.models import BookingEvent, BookingSlot, BookingStatus as S
from tests import factories
from tests.carer_helpers import carer_for


def test_request_stores_its_deadlines_as_facts(db_session, clock):
    listing = factories.listing(response_hours=4, duration_minutes=120)
    owner, member = factories.staff(listing.provider), factories.staff(listing.provider, is_owner=False)
    starts = factories.next_slot(listing, days_ahead=2)
    booking = factories.booking(listing, starts_at=starts)
    assert booking.status == S.REQUESTED
    assert booking.respond_by == clock.now() + timedelta(hours=4)
    assert booking.starts_at == starts and booking.ends_at == starts + timedelta(minutes=120)
    assert booking.grace_minutes == 15
    assert booking.price_fen == listing.price_fen and booking.listing_version == listing.version
    staff_notes = db_session.scalars(sa.select(Notification).where(Notification.kind == "booking.requested"))
    assert sorted((n.user_id, n.params["booking"]) for n in staff_notes) == sorted(
        [(owner.id, booking.id), (member.id, booking.id)])


def test_slot_outside_availability_in_the_past_or_other_community_is_refused(db_session, clock):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    outsider = factories.resident()  # another community
    good = factories.next_slot(listing)
    cases = [
        (resident, good + timedelta(minutes=30), "starts_at"),  # not a slot start
        (resident, good.replace(hour=good.hour) - timedelta(days=10), "starts_at"),  # past
        (resident, good + timedelta(days=90), "starts_at"),  # beyond the horizon
        (outsider, good, "starts_at"),  # not offered in their community
    ]
    for who, when, field in cases:
        with pytest.raises(Invalid) as error:
            services.request_booking(db_session, who, listing_id=listing.id, starts_at=when, address="x")
        assert error.value.field == field
    with pytest.raises(Invalid) as error:
        services.request_booking(db_session, resident, listing_id=listing.id, starts_at=good, address=" ")
    assert error.value.field == "address"
    db_session.rollback()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(BookingSlot)) == 0


def test_capacity_is_never_exceeded_and_a_cancellation_frees_the_place(db_session):
    listing = factories.listing()  # capacity 2 per slot
    starts = factories.next_slot(listing)
    first = factories.booking(listing, starts_at=starts)
    factories.booking(listing, starts_at=starts)
    with pytest.raises(Conflict):
        factories.booking(listing, starts_at=starts)
    db_session.rollback()
    services.cancel_by_resident(db_session, first, first.resident)
    db_session.commit()
    factories.booking(listing, starts_at=starts)
    slot = db_session.get(BookingSlot, first.slot_id)
    assert (slot.taken, slot.capacity) == (2, 2)


def test_full_happy_path_records_who_and_when(db_session, clock):
    booking = factories.booking()
    staff = factories.staff(booking.provider)
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    clock.set(booking.starts_at + timedelta(minutes=10))
    services.check_in(db_session, booking, staff)
    clock.set(booking.ends_at + timedelta(minutes=5))
    services.complete(db_session, booking, staff)
    services.confirm_completion(db_session, booking, booking.resident)
    assert booking.status == S.COMPLETED and booking.confirmed_at is not None
    assert not booking.is_late
    events = db_session.scalars(sa.select(BookingEvent).where(BookingEvent.booking_id == booking.id)).all()
    assert [e.to_status for e in events] == [S.REQUESTED, S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.COMPLETED]
    assert events[1].actor_id == staff.id


def test_lateness_is_recorded_at_the_grace_boundary(db_session, clock):
    booking = factories.booking()
    staff = factories.staff(booking.provider)
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    clock.set(booking.starts_at + timedelta(minutes=15))  # exactly at the grace: on time
    services.check_in(db_session, booking, staff)
    assert booking.late_start is False
    clock.set(booking.ends_at + timedelta(minutes=15, seconds=1))  # one second past: late
    services.complete(db_session, booking, staff)
    assert booking.late_finish is True and booking.is_late


def test_illegal_transitions_are_refused(db_session):
    booking = factories.booking()
    staff = factories.staff(booking.provider)
    with pytest.raises(IllegalTransition):
        services.complete(db_session, booking, staff)  # not in service
    services.decline(db_session, booking, staff, "没有空档")
    with pytest.raises(IllegalTransition):
        services.accept(db_session, booking, staff, carer_id=carer_for(booking))


def test_decline_needs_a_reason(db_session):
    booking = factories.booking()
    with pytest.raises(Invalid):
        services.decline(db_session, booking, factories.staff(booking.provider), "  ")


def test_unanswered_requests_expire_as_late_responses(db_session, clock):
    booking = factories.booking()
    clock.set(booking.respond_by - timedelta(seconds=1))
    assert services.expire_overdue_requests(db_session) == 0
    clock.set(booking.respond_by + timedelta(seconds=1))
    assert services.expire_overdue_requests(db_session) == 1
    assert booking.status == S.EXPIRED and booking.late_response
    assert services.expire_overdue_requests(db_session) == 0  # idempotent
    slot = db_session.get(BookingSlot, booking.slot_id)
    assert slot.taken == 0


def test_late_cancellation_inside_the_notice_window(db_session, clock):
    listing = factories.listing()
    early = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=5))
    late = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1, hour=13))
    staff = factories.staff(listing.provider)
    services.accept(db_session, early, staff, carer_id=carer_for(early))
    services.accept(db_session, late, staff, carer_id=carer_for(late))
    services.cancel_by_resident(db_session, early, early.resident)
    clock.set(late.starts_at - timedelta(hours=2))  # inside the 24-hour notice window
    services.cancel_by_resident(db_session, late, late.resident)
    assert early.late_cancellation is False
    assert late.late_cancellation is True


def test_provider_no_show_needs_report_then_confirmation(db_session, clock):
    booking = factories.booking()
    staff = factories.staff(booking.provider)
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    with pytest.raises(Invalid):
        services.report_provider_no_show(db_session, booking, booking.resident)  # too early
    clock.set(booking.starts_at + timedelta(minutes=20))
    with pytest.raises(IllegalTransition):
        services.confirm_provider_no_show(db_session, booking, staff)  # nothing reported yet
    services.report_provider_no_show(db_session, booking, booking.resident)
    services.confirm_provider_no_show(db_session, booking, staff)
    assert booking.status == S.NO_SHOW_PROVIDER


def test_completed_bookings_auto_confirm_after_72_hours(db_session, clock):
    booking = factories.booking()
    staff = factories.staff(booking.provider)
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    clock.set(booking.starts_at)
    services.check_in(db_session, booking, staff)
    clock.set(booking.ends_at)
    services.complete(db_session, booking, staff)
    clock.advance(hours=71)
    assert services.auto_confirm_completed(db_session) == 0
    clock.advance(hours=1)
    assert services.auto_confirm_completed(db_session) == 1
    db_session.refresh(booking)
    assert booking.auto_confirmed and booking.confirmed_at is not None


def test_a_provider_cannot_reach_another_providers_booking(db_session):
    booking = factories.booking()
    other = factories.provider()
    with pytest.raises(NotFound):
        services.provider_booking(db_session, other.id, booking.id)
    with pytest.raises(NotFound):
        services.resident_booking(db_session, factories.resident(), booking.id)


def test_available_slots_leave_out_full_and_imminent_slots(db_session, clock):
    from providers.bookings.slots import available_slots

    listing = factories.listing(duration_minutes=120)  # Mon–Fri 9–17 local: 4 slots a day, 2 places
    slots = available_slots(db_session, listing, days=7)
    # Monday 10:00 local now: 9:00 is past, 11:00 is exactly an hour away (left
    # out), 13:00 and 15:00 remain; then Tuesday to Friday, 4 slots each.
    assert len(slots) == 2 + 4 * 4
    first_start, places = slots[0]
    assert places == 2
    factories.booking(listing, starts_at=first_start)
    factories.booking(listing, starts_at=first_start)
    assert available_slots(db_session, listing, days=7)[0][0] != first_start
