"""The visit's facts through the bookings API (issue 13): a client checks in and out with
the device's position, the tasks, the reason for leaving early and the resident's code,
as the carer's phone page does; a wrong code counts there too, so the code cannot be
guessed through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from providers.bookings.models import Booking, BookingStatus as S
from providers.visits.models import FlagRule, VerifiedBy, VisitFlag, VisitRecord
from tests import visit_helpers as v
from tests.helpers import assert_problem, bearer

pytestmark = pytest.mark.usefixtures("english_messages")


def post(client, user, booking, action, **body):
    return client.post(f"/api/v1/bookings/{booking.id}/actions/{action}", json=body, headers=bearer(user))


def record(booking) -> VisitRecord:
    db.session.expire_all()
    return db.session.get(VisitRecord, booking.id)


def test_check_in_and_out_with_the_position_tasks_and_code(client, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at - timedelta(minutes=5))
    answer = post(client, staff, booking, "check-in", lat=v.NEAR[0], lon=v.NEAR[1], accuracy=12)
    assert answer.status_code == 200 and answer.get_json()["status"] == "in_service"
    found = record(booking)
    assert (found.check_in_lat, found.check_in_lon, found.check_in_accuracy_m) == (*v.NEAR, 12)
    assert 90 <= found.check_in_distance_m <= 105 and found.check_in_device is None  # no cookie: no device
    v.at_the_end(clock, booking)
    answer = post(client, staff, booking, "complete", lat=str(v.NEAR[0]), lon=str(v.NEAR[1]),
                  tasks=[v.CHECKLIST[0]], code=found.code)
    assert answer.status_code == 200
    found = record(booking)
    assert found.verified_by == VerifiedBy.CODE and found.tasks_done == [v.CHECKLIST[0]]


def test_bad_facts_are_refused_on_their_field_and_nothing_changes(client, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at)
    assert_problem(post(client, staff, booking, "check-in", lat="north", lon="121.47"), 422, "location")
    assert_problem(post(client, staff, booking, "check-in", lat=91, lon=121), 422, "location")
    assert record(booking) is None and db.session.get(Booking, booking.id).status == S.ACCEPTED
    post(client, staff, booking, "check-in", lat=v.NEAR[0], lon=v.NEAR[1])
    clock.advance(minutes=10)  # far before half the visit
    assert_problem(post(client, staff, booking, "complete"), 422, "short_reason")
    assert_problem(post(client, staff, booking, "complete", short_reason="老人外出", tasks=["洗车"]), 422, "tasks")
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == S.IN_SERVICE
    answer = post(client, staff, booking, "complete", short_reason="老人临时外出")
    assert answer.status_code == 200 and record(booking).short_reason == "老人临时外出"


def test_a_wrong_code_counts_through_the_api_and_locks_at_the_fifth(client, clock, app):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    right = record(booking).code
    wrong = "000000" if right != "000000" else "111111"
    limit = app.config["VISIT_CODE_ATTEMPTS"]
    for attempt in range(1, limit):
        assert_problem(post(client, staff, booking, "complete", code=wrong), 422, "code")
        assert record(booking).code_attempts == attempt  # committed although the check-out was refused
    assert_problem(post(client, staff, booking, "complete", code=wrong), 422, "code")
    assert record(booking).code_locked_at is not None
    assert db.session.query(VisitFlag).filter_by(booking_id=booking.id, rule=FlagRule.CODE_LOCKED).count() == 1
    # Locked: even the right code verifies nothing now; the check-out goes through unverified.
    answer = post(client, staff, booking, "complete", code=right)
    assert answer.status_code == 200 and not record(booking).is_verified
