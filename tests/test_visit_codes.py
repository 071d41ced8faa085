"""The visit code and code cards at check-out (issue 13, "The resident confirms").

A right code verifies the visit (method code, or card for a printed card's code); a
wrong one is refused but counted, and the fifth locks the code and flags the visit;
a locked or empty code lets the check-out through unverified; a used code is refused.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from providers.bookings import services as bookings
from providers.bookings.models import BookingStatus as S
from providers.visits import cards
from providers.visits.models import FlagRule, VerifiedBy, VisitFlag, VisitRecord
from providers.visits.services import VisitFacts
from tests import factories
from tests import visit_helpers as v
from tests.forms import open_page, page_of


def record(booking) -> VisitRecord:
    db.session.expire_all()
    return db.session.get(VisitRecord, booking.id)


def check_out_page(client, booking, code: str):
    page = open_page(client, "/provider/today")
    return page.submit(button="Check out: the visit is done", fields={f"visit{booking.id}-code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def served(clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    return listing, staff, resident, booking


def test_the_resident_s_code_verifies_the_visit(client, auth, en, clock):
    _listing, staff, _resident, booking = served(clock)
    auth.login(staff)
    response = check_out_page(client, booking, record(booking).code)
    assert response.status_code == 302
    found = record(booking)
    assert (found.verified_by, found.verified_actor_id) == (VerifiedBy.CODE, staff.id)
    assert found.code_used_at is not None and booking.status == S.COMPLETED
    assert "verified by the visit code" in client.get("/provider/today").get_data(as_text=True)


def test_a_wrong_code_five_times_locks_it_and_flags_the_visit(client, auth, en, clock):
    _listing, staff, _resident, booking = served(clock)
    code = record(booking).code
    auth.login(staff)
    for attempt in range(1, 5):
        response = check_out_page(client, booking, wrong(code))
        assert response.status_code == 422
        assert f"({5 - attempt} tries left)" in response.get_data(as_text=True)
        found = record(booking)  # the attempt was committed although the check-out was refused
        assert found.code_attempts == attempt and found.code_locked_at is None
        assert booking.status == S.IN_SERVICE and found.checked_out_by_id is None
    response = check_out_page(client, booking, wrong(code))
    assert response.status_code == 422 and "is now locked" in response.get_data(as_text=True)
    found = record(booking)
    assert found.code_attempts == 5 and found.code_locked_at is not None
    flag = db.session.scalar(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id))
    assert (flag.rule, flag.evidence) == (FlagRule.CODE_LOCKED, {"attempts": 5})
    locked = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "visit.code_locked"))
    assert (locked.actor_id, locked.object_id) == (staff.id, booking.id)
    # Locked: even the right code no longer verifies; the check-out goes through unverified.
    again = page_of(client, "/provider/today", response).submit(
        button="Check out: the visit is done", fields={f"visit{booking.id}-code": code})
    assert again.status_code == 302
    found = record(booking)
    assert booking.status == S.COMPLETED and found.verified_at is None and found.code_used_at is None


def test_an_empty_code_checks_out_unverified(client, auth, en, clock):
    _listing, staff, _resident, booking = served(clock)
    auth.login(staff)
    response = check_out_page(client, booking, "")
    assert response.status_code == 302
    assert "not verified yet" in client.get("/provider/today").get_data(as_text=True)
    found = record(booking)
    assert found.verified_at is None and found.code_attempts == 0 and booking.status == S.COMPLETED


def test_a_used_code_is_refused_and_not_counted(client, auth, en, clock):
    listing, staff, resident, first = served(clock)
    first_code = record(first).code
    bookings.complete(db.session, first, staff, VisitFacts(code=first_code))
    db.session.commit()
    second = v.in_service(listing, staff, resident, clock, starts_at=factories.next_slot(listing, days_ahead=2))
    v.at_the_end(clock, second)
    if record(second).code == first_code:  # one in a million: make them differ
        record(second).code = wrong(first_code)
        db.session.commit()
    auth.login(staff)
    response = check_out_page(client, second, first_code)
    assert response.status_code == 409 and "already used" in response.get_data(as_text=True)
    found = record(second)
    assert found.code_attempts == 0 and second.status == S.IN_SERVICE


def test_a_code_card_s_code_verifies_with_method_card_once(client, auth, en, clock):
    listing, staff, resident, booking = served(clock)
    official = factories.official()
    _card, codes = cards.issue(db.session, resident, official)
    db.session.commit()
    auth.login(staff)
    assert check_out_page(client, booking, codes[3]).status_code == 302
    assert record(booking).verified_by == VerifiedBy.CARD
    # The same card code on the next visit: refused as used, not counted as a guess.
    second = v.in_service(listing, staff, resident, clock, starts_at=factories.next_slot(listing, days_ahead=2))
    v.at_the_end(clock, second)
    response = check_out_page(client, second, codes[3])
    assert response.status_code == 409 and "already used" in response.get_data(as_text=True)
    assert record(second).code_attempts == 0
    assert check_out_page(client, second, codes[4]).status_code == 302
    assert record(second).verified_by == VerifiedBy.CARD
