"""One table of booking actions: the page's buttons, the API's list and the services agree.

For every status (and the facts that change what is allowed: a no-show reported,
a completion confirmed) × every party (the booking's resident, its provider's
staff, an official) × every moment (before the check-in window, inside it, after
the start and its grace, after the end), the buttons the page shows and the
``actions`` the API lists are the same set, every listed action succeeds in the
service, and every other action of that party is refused with nothing written.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.audit import AuditEvent
from app.auth.services import issue_token
from app.errors import IllegalTransition, Invalid, LinliError
from app.notifications import Notification
from app.states import MACHINES
from providers.bookings import actions, services
from providers.bookings.actions import Party
from providers.bookings.models import BOOKING, Booking, BookingEvent, BookingSlot, BookingStatus as S
from tests import factories
from tests.carer_helpers import carer_for

# How to bring a fresh (requested) booking into each case, through the real services.
CASES = {
    "requested": [],
    "accepted": ["accept"],
    "accepted, no-show reported": ["accept", "report"],
    "declined": ["decline"],
    "expired": ["expire"],
    "in service": ["accept", "check_in"],
    "in service, checked in late": ["accept", "late_check_in"],
    "in service after a no-show report": ["accept", "report", "late_check_in"],
    "completed": ["accept", "check_in", "complete"],
    "completed, confirmed": ["accept", "check_in", "complete", "confirm"],
    "cancelled by the resident": ["cancel_by_resident"],
    "cancelled by the provider": ["accept", "cancel_by_provider"],
    "no-show of the provider": ["accept", "report", "confirm_no_show"],
    "no-show of the resident": ["accept", "check_in", "resident_no_show"],
}

# Minutes from the booking's start (two hours long, grace 15 minutes).
MOMENTS = {
    "before the check-in window": -120,
    "inside the check-in window": -30,
    "after the start and its grace": 30,
    "after the end": 120 + 15 + 60,
}

PARTIES = [Party.RESIDENT, Party.PROVIDER, Party.OFFICIAL]


def _bring(db_session, clock, booking, staff, steps) -> None:
    for step in steps:
        if step == "accept":
            services.accept(db_session, booking, staff, carer_id=carer_for(booking))
        elif step == "report":
            clock.set(booking.starts_at + timedelta(minutes=20))
            services.report_provider_no_show(db_session, booking, booking.resident)
        elif step == "decline":
            services.decline(db_session, booking, staff, "没有空档")
        elif step == "expire":
            clock.set(booking.respond_by + timedelta(minutes=1))
            assert services.expire_overdue_requests(db_session) == 1
        elif step == "check_in":
            clock.set(booking.starts_at)
            services.check_in(db_session, booking, staff)
        elif step == "late_check_in":  # 25 minutes after the start (after a no-show report, if any)
            clock.set(booking.starts_at + timedelta(minutes=25))
            services.check_in(db_session, booking, staff)
        elif step == "complete":
            clock.set(booking.ends_at)
            services.complete(db_session, booking, staff)
        elif step == "confirm":
            services.confirm_completion(db_session, booking, booking.resident)
        elif step == "cancel_by_resident":
            services.cancel_by_resident(db_session, booking, booking.resident)
        elif step == "cancel_by_provider":
            services.cancel_by_provider(db_session, booking, staff, "师傅生病")
        elif step == "confirm_no_show":
            services.confirm_provider_no_show(db_session, booking, staff)
        elif step == "resident_no_show":
            clock.set(booking.starts_at + timedelta(minutes=20))
            services.mark_resident_no_show(db_session, booking, staff)
        db_session.commit()


def _written(db_session) -> tuple:
    """What a refused action must leave as it was."""
    def count(model):
        return db_session.scalar(sa.select(sa.func.count()).select_from(model))

    return (count(BookingEvent), count(Notification), count(AuditEvent),
            db_session.scalar(sa.select(sa.func.sum(BookingSlot.taken))))


def _page_buttons(client, auth, party, user, booking) -> set[str]:
    auth.login(user)
    if party == Party.RESIDENT:
        page = client.get(f"/bookings/{booking.id}")
        found = re.findall(rf'action="/bookings/{booking.id}/([a-z-]+)"', page.get_data(as_text=True))
    elif party == Party.PROVIDER:
        page = client.get(f"/provider/bookings/{booking.id}")
        # Check-in and complete post the carer's visit forms (providers/visits), with the visit's facts.
        found = re.findall(rf'action="/provider/(?:bookings|visits)/{booking.id}/([a-z-]+)"',
                           page.get_data(as_text=True))
    else:
        page = client.get(f"/official/bookings/{booking.id}")
        found = ["confirm-no-show" if name == "no-show" else name for name in
                 re.findall(rf'action="/official/bookings/{booking.id}/([a-z-]+)"', page.get_data(as_text=True))]
    auth.logout()
    assert page.status_code == 200
    # Other domains' forms on the page (paying, rating) are not booking actions.
    return set(found) & set(actions.NAMES)


def _api_list(client, db_session, user, booking) -> list[str]:
    _token, raw = issue_token(db_session, user, "test")
    db_session.commit()
    response = client.get(f"/api/v1/bookings/{booking.id}", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["actions"]


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("party", PARTIES)
@pytest.mark.parametrize("case", CASES)
def test_buttons_api_and_services_agree(client, auth, db_session, clock, case, party, moment):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1))
    _bring(db_session, clock, booking, staff, CASES[case])
    user = {Party.RESIDENT: booking.resident, Party.PROVIDER: staff, Party.OFFICIAL: factories.official()}[party]
    clock.set(booking.starts_at + timedelta(minutes=MOMENTS[moment]))

    listed = _api_list(client, db_session, user, booking)
    assert _page_buttons(client, auth, party, user, booking) == set(listed)

    done, refused, needs_reason = [], [], []
    for action in actions.BY_PARTY[party].values():
        db_session.expire_all()
        booking = db_session.get(Booking, booking.id)
        # Accepting names a carer (a free one of the provider).
        fields = {"carer_id": carer_for(booking)} if action.name == "accept" else {}
        before = _written(db_session)
        savepoint = db_session.begin_nested()
        try:
            services.perform(db_session, action, booking, user, "电话核实", **fields)
        except LinliError as refusal:
            assert isinstance(refusal, (IllegalTransition, Invalid)), refusal
            if action.name == "complete" and refusal.field == "short_reason":
                # Offered, but a check-out before half the visit needs the carer's reason (the form
                # has the field; this post sent none): refused, nothing written.
                assert not (db_session.new or db_session.dirty or db_session.deleted)
                needs_reason.append(action.name)
                continue
            # Refused before anything was written: nothing pending, nothing flushed.
            assert not (db_session.new or db_session.dirty or db_session.deleted), (action.name, refusal)
            assert _written(db_session) == before, action.name
            refused.append(action.name)
        else:
            done.append(action.name)
        finally:
            savepoint.rollback()
    assert [name for name in listed if name not in needs_reason] == done, (case, party, moment)
    assert set(refused) == set(actions.BY_PARTY[party]) - set(listed)


def test_the_rules_of_today_in_one_place(db_session, clock):
    """Spot checks of the table against the rules as they were written before it."""
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1))
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    names = lambda user: [a.name for a in actions.available(booking, user)]  # noqa: E731
    clock.set(booking.starts_at - timedelta(hours=1, seconds=1))
    assert names(staff) == ["cancel"] and names(booking.resident) == ["cancel"]
    clock.set(booking.starts_at - timedelta(hours=1))  # check-in opens exactly an hour before
    assert names(staff) == ["check-in", "cancel"]
    clock.set(booking.starts_at + timedelta(minutes=15) - timedelta(seconds=1))
    assert names(booking.resident) == ["cancel"]
    assert actions.get(Party.RESIDENT, "report-no-show").opens_later(booking) == booking.starts_at + timedelta(
        minutes=15)
    clock.set(booking.starts_at + timedelta(minutes=15))  # the resident's report opens at start + grace
    assert names(booking.resident) == ["cancel", "report-no-show"]
    # The provider's record of the resident's absence waits for its check-in (issue 12, item 3).
    assert names(staff) == ["check-in", "cancel"]
    assert names(factories.official()) == ["confirm-no-show"]
    assert names(factories.resident(listing.communities[0])) == []  # not their booking
    services.check_in(db_session, booking, staff)  # arrives at start + 15: waits 15 minutes at the door
    assert names(staff) == ["complete"]
    assert actions.get(Party.PROVIDER, "resident-no-show").opens_later(booking) == booking.starts_at + timedelta(
        minutes=30)
    clock.set(booking.starts_at + timedelta(minutes=30))
    assert names(staff) == ["complete", "resident-no-show"]
    assert names(booking.resident) == []  # checked in: no "nobody came" report; a complaint disputes it


def test_every_row_names_its_service_and_each_party_an_action_once():
    seen = set()
    for action in actions.ACTIONS:
        assert callable(getattr(services, action.service)), action
        assert (action.party, action.name) not in seen
        seen.add((action.party, action.name))
        assert action.reason in (None, "optional", "required")


def test_an_illegal_move_raises_before_any_write(db_session, clock):
    """The services check the guard first: a refused answer leaves responded_at and the
    lateness facts untouched (they used to be written before the move was refused)."""
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    booking = factories.booking(listing)
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    db_session.commit()
    answered = booking.responded_at
    clock.advance(hours=6)  # past the respond-by time: a second answer would be "late"
    for attempt in (lambda: services.accept(db_session, booking, staff, carer_id=carer_for(booking)),
                    lambda: services.decline(db_session, booking, staff, "x"),
                    lambda: services.complete(db_session, booking, staff)):
        with pytest.raises(IllegalTransition):
            attempt()
        assert not db_session.dirty
    assert (booking.responded_at, booking.late_response, booking.completed_at) == (answered, False, None)


def test_the_booking_machine_is_registered_and_keeps_its_message(app):
    assert MACHINES["booking"] is BOOKING
    assert BOOKING.initial == {S.REQUESTED} and BOOKING.reachable() == set(S)
    with app.test_request_context(), force_locale("en"):
        with pytest.raises(IllegalTransition) as refused:
            BOOKING.check(S.DECLINED, S.ACCEPTED)
        assert str(refused.value) == "This booking is Declined; it cannot become Accepted."
