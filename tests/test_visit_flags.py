"""Each anomaly rule fires past its threshold and not at it; flags carry their evidence
and are raised once per visit and rule; the recheck job finds cross-visit patterns."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from providers.visits import flags
from providers.visits.models import FlagRule, VerifiedBy, VisitFlag, VisitPhoto
from tests import factories
from tests.flag_helpers import HOME, booked, close_visit


def rules_on(booking) -> dict:
    return {f.rule: f.evidence for f in db.session.scalars(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id))}


def metres_north(metres: float, of=HOME) -> tuple[float, float]:
    return (of[0] + metres / 111_195, of[1])


def test_a_clean_visit_raises_no_flag():
    booking, _ = close_visit()
    assert rules_on(booking) == {}


@pytest.mark.parametrize("missing", ["check_in", "check_out"])
def test_no_location_at_either_end_is_flagged(missing):
    booking, _ = close_visit(**{missing: None})
    assert rules_on(booking)[FlagRule.NO_LOCATION] == {"missing": [missing]}


def test_outside_the_radius_is_flagged_and_the_radius_itself_is_not(app):
    radius = app.config["VISIT_RADIUS_M"]
    at_edge, _ = close_visit(distances=(radius, radius))
    assert FlagRule.OUTSIDE_RADIUS not in rules_on(at_edge)
    beyond, _ = close_visit(distances=(radius + 1, 0))
    assert rules_on(beyond)[FlagRule.OUTSIDE_RADIUS] == {
        "check_in_distance_m": radius + 1, "check_out_distance_m": 0, "radius_m": radius}


def test_a_visit_below_the_minimum_share_is_flagged(app):
    # The factory's slot is 120 minutes; the default minimum is 50 %: 60 minutes.
    assert app.config["VISIT_MIN_SHARE_PERCENT"] == 50
    enough, _ = close_visit(served_minutes=60)
    assert FlagRule.SHORT_DURATION not in rules_on(enough)
    short, _ = close_visit(served_minutes=59)
    evidence = rules_on(short)[FlagRule.SHORT_DURATION]
    assert evidence["served_minutes"] == 59 and evidence["planned_minutes"] == 120
    assert evidence["min_share_percent"] == 50


@pytest.mark.parametrize("method,flagged", [
    (VerifiedBy.CODE, False), (VerifiedBy.CARD, False), (None, True), (VerifiedBy.RESIDENT, True)])
def test_closed_without_a_code_is_flagged(method, flagged):
    booking, _ = close_visit(verified_by=method)
    assert (FlagRule.NO_CODE in rules_on(booking)) is flagged


def test_a_locked_code_is_flagged():
    booking = booked()
    booking_unlocked, _ = close_visit()
    assert FlagRule.CODE_LOCKED not in rules_on(booking_unlocked)
    _, record = close_visit(booking, send=False)
    record.code_attempts, record.code_locked_at = 5, booking.completed_at
    flags.check_closed_visit(db.session, booking, record)
    assert rules_on(booking)[FlagRule.CODE_LOCKED] == {"attempts": 5}


def test_a_check_out_long_after_the_slot_is_flagged_as_backfilled(app):
    hours = app.config["VISIT_BACKFILL_HOURS"]
    # Checked in on time, out exactly ``hours`` after the slot's end: not back-filled.
    on_edge, _ = close_visit(served_minutes=120 + hours * 60)
    assert FlagRule.BACKFILLED not in rules_on(on_edge)
    late, _ = close_visit(served_minutes=120 + hours * 60 + 1)
    assert rules_on(late)[FlagRule.BACKFILLED] == {"minutes_after_end": hours * 60 + 1, "limit_hours": hours}


def test_one_carer_in_overlapping_visits_flags_both():
    listing = factories.listing()
    carer = factories.staff(listing.provider)
    first, _ = close_visit(booked(listing, hour=9), carer=carer)  # 9:00–11:00
    touching, _ = close_visit(booked(listing, hour=11), carer=carer)  # 11:00–13:00: no overlap
    assert FlagRule.CARER_OVERLAP not in rules_on(touching)
    overlapping, _ = close_visit(booked(listing, hour=11), carer=carer, late_minutes=-60)  # 10:00–12:00
    evidence = rules_on(overlapping)[FlagRule.CARER_OVERLAP]
    assert evidence["visits"] == sorted([first.id, touching.id])
    assert rules_on(first)[FlagRule.CARER_OVERLAP]["visits"] == [overlapping.id]
    # Another carer at the same time is no overlap.
    other, _ = close_visit(booked(listing, hour=9), carer=factories.staff(listing.provider))
    assert FlagRule.CARER_OVERLAP not in rules_on(other)


def test_one_device_for_three_carers_in_30_days_is_flagged():
    listing = factories.listing()
    a, _ = close_visit(booked(listing, days_ahead=1), device="shared")
    b, _ = close_visit(booked(listing, days_ahead=2), device="shared")
    assert FlagRule.SHARED_DEVICE not in rules_on(b)  # two carers: not yet
    far, _ = close_visit(booked(listing, days_ahead=45), device="shared")  # outside 30 days
    assert FlagRule.SHARED_DEVICE not in rules_on(far)
    c, _ = close_visit(booked(listing, days_ahead=3), device="shared")
    evidence = rules_on(c)[FlagRule.SHARED_DEVICE]
    assert evidence["carers"] == 3 and evidence["visits"] == [a.id, b.id]
    assert FlagRule.SHARED_DEVICE in rules_on(a)


def test_the_same_carer_on_one_device_is_not_flagged():
    listing = factories.listing()
    carer = factories.staff(listing.provider)
    for day in (1, 2, 3):
        last, _ = close_visit(booked(listing, days_ahead=day), carer=carer, device="own-phone")
    assert FlagRule.SHARED_DEVICE not in rules_on(last)


def test_one_place_for_three_carers_in_a_day_is_flagged():
    listing = factories.listing()
    close_visit(booked(listing, hour=9), check_in=HOME, device=None)
    close_visit(booked(listing, hour=9), check_in=metres_north(40), device=None)
    away, _ = close_visit(booked(listing, hour=13), check_in=metres_north(200), device=None)
    assert FlagRule.SHARED_PLACE not in rules_on(away)  # 200 m away: another place
    next_day, _ = close_visit(booked(listing, days_ahead=2), check_in=HOME, device=None)
    assert FlagRule.SHARED_PLACE not in rules_on(next_day)  # another day
    third, _ = close_visit(booked(listing, hour=15), check_in=metres_north(20), device=None)
    evidence = rules_on(third)[FlagRule.SHARED_PLACE]
    assert evidence["carers"] == 3 and len(evidence["visits"]) == 2


def test_the_same_photo_on_two_visits_flags_both():
    listing = factories.listing()
    first, _ = close_visit(booked(listing, hour=9))
    second = booked(listing, hour=13)
    for n, (visit, digest) in enumerate([(first, "a" * 64), (second, "a" * 64)]):
        db.session.add(VisitPhoto(booking_id=visit.id, stage="after", stored_name=f"p{visit.id}-{n}.jpg",
                                  content_type="image/jpeg", size_bytes=10, sha256=digest,
                                  uploaded_by_id=factories.staff(listing.provider).id))
    db.session.commit()
    close_visit(second)
    assert rules_on(second)[FlagRule.SAME_PHOTO]["visits"] == [first.id]
    assert rules_on(first)[FlagRule.SAME_PHOTO]["visits"] == [second.id]


def test_three_visits_closed_within_ten_minutes_from_one_place_are_flagged():
    listing = factories.listing()
    # Each slot starts on the hour; served so that the check-outs fall 10:00, 10:05, 10:10 local.
    first, _ = close_visit(booked(listing, hour=9), served_minutes=60, check_out=HOME)
    second, _ = close_visit(booked(listing, hour=9), served_minutes=65, check_out=HOME)
    # 10:11, 11 minutes after the first: only two (10:05, 10:11) fall in one 10-minute window.
    later, _ = close_visit(booked(listing, hour=11), late_minutes=-60, served_minutes=11, check_out=HOME)
    assert FlagRule.BURST_CLOSURES not in rules_on(later)
    # 10:10 from 30 m away: 10:00, 10:05 and 10:10 fall in one window.
    third, _ = close_visit(booked(listing, hour=11), late_minutes=-60, served_minutes=10,
                           check_out=metres_north(30))
    evidence = rules_on(third)[FlagRule.BURST_CLOSURES]
    assert evidence["visits_closed"] == 3 and evidence["visits"] == sorted([first.id, second.id])
    assert FlagRule.BURST_CLOSURES in rules_on(first)


def test_two_closures_are_no_burst_and_far_ones_do_not_count():
    listing = factories.listing()
    close_visit(booked(listing, hour=9), served_minutes=60, check_out=HOME)
    close_visit(booked(listing, hour=9), served_minutes=62, check_out=metres_north(500))
    last, _ = close_visit(booked(listing, hour=11), late_minutes=-60, served_minutes=3, check_out=HOME)
    assert FlagRule.BURST_CLOSURES not in rules_on(last)


def test_a_rule_flags_a_visit_once_and_keeps_its_first_evidence():
    booking, record = close_visit(check_in=None)
    flags.check_closed_visit(db.session, booking, record)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitFlag).where(
        VisitFlag.booking_id == booking.id, VisitFlag.rule == FlagRule.NO_LOCATION)) == 1


def test_the_recheck_job_finds_a_pattern_completed_without_the_signal(clock):
    listing = factories.listing()
    carer = factories.staff(listing.provider)
    first, _ = close_visit(booked(listing, hour=9), carer=carer)
    second, _ = close_visit(booked(listing, hour=11), carer=carer, late_minutes=-60, send=False)
    assert rules_on(second) == {}
    clock.set(second.completed_at + timedelta(hours=1))
    assert flags.recheck_recent(db.session) >= 2
    db.session.commit()
    assert FlagRule.CARER_OVERLAP in rules_on(second) and FlagRule.CARER_OVERLAP in rules_on(first)


def test_a_real_check_out_5_km_away_after_10_minutes_is_flagged(clock):
    """Through the check-in and check-out services (which send visit_closed)."""
    from providers.bookings import services as bookings
    from providers.visits.services import VisitFacts
    from tests import visit_helpers as v

    listing, staff, resident = v.setting()
    far = VisitFacts(lat=str(v.FAR[0]), lon=str(v.FAR[1]), accuracy="10", device="phone-1")
    booking = v.in_service(listing, staff, resident, clock, facts=far)
    clock.set(booking.starts_at + timedelta(minutes=10))
    bookings.complete(db.session, booking, staff, VisitFacts(lat=far.lat, lon=far.lon, accuracy="10",
                                                             short_reason="老人不在家"))
    db.session.commit()
    found = rules_on(booking)
    assert {FlagRule.OUTSIDE_RADIUS, FlagRule.SHORT_DURATION, FlagRule.NO_CODE} <= set(found)
    assert found[FlagRule.OUTSIDE_RADIUS]["check_in_distance_m"] > 4000
    assert found[FlagRule.SHORT_DURATION]["served_minutes"] == 10


def test_the_assigned_carer_in_two_visits_at_once_is_flagged_whoever_checked_in():
    """Booked back to back (the database lets one carer hold both slots), but the first visit
    ran on into the second: the assigned carer was in two homes at once.  The staff account
    that pressed the buttons does not matter once a carer is assigned."""
    from tests.carer_helpers import carer

    listing = factories.listing()
    same = carer(listing.provider_id)
    first, second = booked(listing, hour=9), booked(listing, hour=11)  # 9:00–11:00, 11:00–13:00
    first.carer_id = second.carer_id = same.id
    db.session.flush()
    close_visit(first, late_minutes=30)  # 9:30–11:30, checked in by one staff account
    overlapping, _ = close_visit(second, carer=factories.staff(listing.provider))  # 11:00–13:00, by another
    evidence = rules_on(overlapping)[FlagRule.CARER_OVERLAP]
    assert evidence == {"carer_id": same.id, "visits": [first.id]}
    # Another carer's visit at the same time is no overlap, even by the same staff account.
    other = booked(listing, hour=11)
    other.carer_id = carer(listing.provider_id).id
    db.session.flush()
    alone, _ = close_visit(other, late_minutes=-30)
    assert FlagRule.CARER_OVERLAP not in rules_on(alone)
