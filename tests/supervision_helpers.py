"""Arrangements for the supervision tests: histories written as facts (like ratings/demo.py),
so a test can put a booking at 23:59 local on a window's last day."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from providers.bookings.models import Booking, BookingSlot, BookingStatus
from providers.models import DocumentKind, QualificationDocument
from ratings.models import Complaint, ComplaintKind, ComplaintStatus, Rating
from ratings.supervision import rules
from ratings.supervision.evaluator import as_of_day, evaluate
from tests import factories
from tests.conftest import START

SHANGHAI = ZoneInfo("Asia/Shanghai")
S = BookingStatus
_minutes = itertools.count(1)


def local(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> datetime:
    """A local Shanghai wall-clock time, as UTC."""
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


def as_of(day: date = date(2026, 11, 1)) -> datetime:
    return as_of_day(day, rules.current(db.session))


def serving_provider(days: int = 400, **kwargs):
    """An active provider (activated ``days`` before START) with a listing and a resident."""
    provider = factories.provider(activated_at=START - timedelta(days=days), **kwargs)
    listing = factories.listing(provider)
    resident = factories.resident(listing.communities[0])
    staff = factories.staff(provider)
    return provider, listing, resident, staff


def booking(listing, resident, starts_at: datetime, status: S = S.COMPLETED, *, late: bool = False,
            minutes: int = 60) -> Booking:
    """A booking that happened: answered a day ahead, served (late by 40 minutes when ``late``)."""
    starts_at = starts_at.astimezone(timezone.utc)
    slot = db.session.scalar(sa.select(BookingSlot).where(BookingSlot.listing_id == listing.id,
                                                          BookingSlot.starts_at == starts_at))
    if slot is None:
        slot = BookingSlot(listing_id=listing.id, starts_at=starts_at, capacity=50, taken=0)
        db.session.add(slot)
        db.session.flush()
    slot.taken += 1
    ends_at = starts_at + timedelta(minutes=minutes)
    b = Booking(
        listing_id=listing.id, listing_version=listing.version, provider_id=listing.provider_id,
        resident_id=resident.id, community_id=resident.community_id, slot_id=slot.id, status=status,
        address="3号楼", price_fen=10000, requested_at=starts_at - timedelta(days=2),
        respond_by=starts_at - timedelta(days=1), starts_at=starts_at, ends_at=ends_at, grace_minutes=15,
    )
    if status != S.EXPIRED:
        b.responded_at = starts_at - timedelta(days=1, hours=2)
    if status == S.COMPLETED:
        b.checked_in_at = starts_at + timedelta(minutes=40 if late else 0)
        b.completed_at = ends_at + timedelta(minutes=40 if late else 0)
        b.late_start = b.late_finish = late
    if status == S.EXPIRED:
        b.late_response = True
    db.session.add(b)
    db.session.flush()
    return b


def bookings(listing, resident, n: int, *, late: int = 0, status_n: dict | None = None,
             first: datetime | None = None) -> list[Booking]:
    """``n`` completed bookings (the first ``late`` of them late) one hour apart from ``first``
    (default 1 October 2026 09:00 local), plus ``status_n`` {status: count} others."""
    at = first or local(2026, 10, 1, 9)
    made = []
    for i in range(n):
        made.append(booking(listing, resident, at + timedelta(hours=i), late=i < late))
    offset = n
    for status, count in (status_n or {}).items():
        for _ in range(count):
            made.append(booking(listing, resident, at + timedelta(hours=offset), status))
            offset += 1
    db.session.commit()
    return made


def rate(b: Booking, overall: int, at: datetime | None = None) -> Rating:
    r = Rating(booking_id=b.id, resident_id=b.resident_id, provider_id=b.provider_id, listing_id=b.listing_id,
               overall=overall, timeliness=overall, quality=overall, attitude=overall, comment="",
               created_at=at or b.ends_at + timedelta(hours=3))
    db.session.add(r)
    db.session.flush()
    return r


def upheld(b: Booking, decided_at: datetime) -> Complaint:
    c = Complaint(booking_id=b.id, resident_id=b.resident_id, provider_id=b.provider_id, kind=ComplaintKind.LATE,
                  description="迟到", status=ComplaintStatus.UPHELD, created_at=b.ends_at,
                  respond_by=b.ends_at + timedelta(hours=48), decided_at=decided_at, decision_reason="属实")
    db.session.add(c)
    db.session.flush()
    return c


def document(provider, expires_on: date, kind: DocumentKind = DocumentKind.BUSINESS_LICENCE,
             uploaded_by=None) -> QualificationDocument:
    n = next(_minutes)
    doc = QualificationDocument(
        provider_id=provider.id, kind=kind, original_name="执照.pdf", stored_name=f"sup-{provider.id}-{n}.pdf",
        content_type="application/pdf", size_bytes=100, sha256="0" * 64, expires_on=expires_on,
        uploaded_by_id=(uploaded_by or factories.staff(provider)).id,
    )
    db.session.add(doc)
    db.session.commit()
    return doc


def result_of(provider, day: date = date(2026, 11, 1)):
    """The evaluator's result for one provider as of ``day`` (current rule set)."""
    evaluation = evaluate(db.session, rules.current(db.session), as_of(day))
    return next(r for r in evaluation.results if r.provider_id == provider.id)


# --- Proof of service: programme visits with their verification, flags and calls ------------


def programme_provider(days: int = 400):
    """(provider, listing, resident, award): an active provider awarded a purchase programme."""
    from tests.programme_helpers import open_programme

    _programme, award, listing, _staff, _official, community = open_programme()
    provider = listing.provider
    provider.activated_at = START - timedelta(days=days)
    resident = factories.resident(community)
    db.session.flush()
    return provider, listing, resident, award


def visit(listing, resident, award, starts_at: datetime, *, verified: bool = False, flags=(), cleared=(),
          call: tuple | None = None) -> Booking:
    """A programme-funded visit checked out an hour after ``starts_at``, with its facts:
    ``verified`` (the resident's code), open ``flags`` and ``cleared`` ones (FlagRule values),
    and ``call`` = (outcome, satisfaction) of a finished follow-up call."""
    from providers.bookings.models import Funding
    from providers.visits.models import FlagRule, VerifiedBy, VisitFlag, VisitRecord
    from ratings.followups.models import CallStatus, FollowUpCall, SampleReason

    b = booking(listing, resident, starts_at)
    b.funding, b.programme_award_id = Funding.PROGRAMME, award.id
    record = VisitRecord(booking_id=b.id)
    if verified:
        record.verified_at, record.verified_by = b.completed_at, VerifiedBy.CODE
    db.session.add(record)
    official = factories.official() if cleared else None
    for rule in flags:
        db.session.add(VisitFlag(booking_id=b.id, rule=FlagRule(rule), evidence={}, raised_at=b.completed_at))
    for rule in cleared:
        db.session.add(VisitFlag(booking_id=b.id, rule=FlagRule(rule), evidence={}, raised_at=b.completed_at,
                                 cleared_at=b.completed_at + timedelta(days=1), cleared_by_id=official.id,
                                 clear_reason="核实无误"))
    if call is not None:
        outcome, satisfaction = call
        done = outcome is not None
        db.session.add(FollowUpCall(
            booking_id=b.id, provider_id=b.provider_id, month=starts_at.astimezone(SHANGHAI).strftime("%Y-%m"),
            reason=SampleReason.SAMPLED, status=CallStatus.DONE if done else CallStatus.RETRY, attempts=1,
            outcome=outcome, satisfaction=satisfaction,
            recorded_at=b.completed_at + timedelta(days=3) if done else None))
    db.session.flush()
    return b
