"""Demo booking history: four months of bookings, ratings and complaints.

安康 (home care) is punctual and well rated; 洁美家政 (housekeeping) is often
late, cancels now and then and is rated poorly, with upheld complaints — so
the scorecards (and, later, the evaluator) have something to show.  History is
written as facts (times, lateness flags, events) relative to the clock's now;
the places in each slot are counted as the booking service would.
"""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.services import create_user
from app.clock import local, now
from app.models import Role, User
from providers.bookings.models import Booking, BookingEvent, BookingSlot, BookingStatus as S
from providers.bookings.slots import slot_starts_on
from providers.models import Listing, ListingStatus, Provider, ProviderStaff
from ratings.models import Complaint, ComplaintKind, ComplaintStatus, Rating, RatingTag, RatingTagCode as T

HISTORY_DAYS = 120
EXTRA_RESIDENTS = 16

# provider name: (bookings, late share, provider-cancel share, score range, upheld complaints at
# most: about its first late visits; 安康's one stays below the evaluator's threshold of three)
PROFILES = {
    "安康居家养老服务中心": (70, 0.03, 0.0, (4, 5), 1),
    "洁美家政服务有限公司": (60, 0.30, 0.08, (2, 4), 3),
}


# What a resident writes and ticks for a score (late visits get their own words): a 1-star
# review never says "very satisfied".
COMMENTS = {
    5: ["服务很好，准时，非常满意。", "阿姨很细心，家里收拾得很干净。", ""],
    4: ["态度不错，整体满意。", "挺好的，下次还约。", ""],
    3: ["还可以，有些地方不够细致。", "一般，基本完成了。", ""],
    2: ["不太满意，打扫不干净。", "做得马虎，需要改进。", ""],
    1: ["很不满意，活没干好。", "态度差，不会再约了。", ""],
}
LATE_COMMENTS = ["来晚了，也没提前打电话。", "迟到快一个小时。", ""]
TAGS = {
    5: [T.PUNCTUAL, T.PROFESSIONAL, T.FRIENDLY, T.PATIENT, T.TIDY, T.CLEAR],
    4: [T.PUNCTUAL, T.FRIENDLY, T.TIDY, T.CLEAR],
    3: [T.FRIENDLY, T.CARELESS],
    2: [T.CARELESS, T.IMPOLITE],
    1: [T.CARELESS, T.IMPOLITE],
}


def review_for(rng: random.Random, score: int, late: bool) -> tuple[str, list[T]]:
    """A comment and quick tags that agree with the score (and with lateness)."""
    comment = rng.choice(LATE_COMMENTS if late else COMMENTS[score])
    pool = [tag for tag in TAGS[score] if not (late and tag is T.PUNCTUAL)]
    tags = rng.sample(pool, k=min(len(pool), rng.randint(0, 3)))
    if late:
        tags.append(T.LATE)
    return comment, tags


def _slot(session: Session, listing: Listing, starts_at, capacity: int) -> BookingSlot:
    slot = session.scalar(
        sa.select(BookingSlot).where(BookingSlot.listing_id == listing.id, BookingSlot.starts_at == starts_at)
    )
    if slot is None:
        slot = BookingSlot(listing_id=listing.id, starts_at=starts_at, capacity=capacity, taken=0)
        session.add(slot)
        session.flush()
    return slot


def _event(session, booking, at, actor, old, new, reason=None):
    session.add(BookingEvent(booking_id=booking.id, at=at, actor_id=actor.id if actor else None,
                             from_status=old, to_status=new, reason=reason))


def _residents(session: Session, community_ids: list[int]) -> list[User]:
    from app.models import Community

    residents = list(session.scalars(sa.select(User).where(User.role == Role.RESIDENT)))
    communities = {c.id: c for c in session.scalars(sa.select(Community))}
    for i in range(EXTRA_RESIDENTS):
        residents.append(create_user(
            session, phone=f"1380001{i:04d}", name=f"居民{i + 1:02d}", password="linli-demo",
            role=Role.RESIDENT, community=communities[community_ids[i % len(community_ids)]],
        ))
    return residents


def load_history(session: Session, seed: int = 7) -> int:
    """Create the history; return how many bookings were written (0 if present)."""
    from ratings.services import refresh_listing_rating

    if session.scalar(sa.select(sa.func.count()).select_from(Booking)):
        return 0
    rng = random.Random(seed)
    words = random.Random(f"{seed}-reviews")
    current = now()
    providers = {p.name: p for p in session.scalars(sa.select(Provider).where(Provider.name.in_(PROFILES)))}
    if not providers:
        return 0
    all_community_ids = sorted({c.id for p in providers.values() for c in p.communities})
    residents = _residents(session, all_community_ids)
    official = session.scalar(sa.select(User).where(User.role == Role.OFFICIAL).order_by(User.id))
    written = 0
    for name, (count, late_share, cancel_share, (low, high), complaints) in PROFILES.items():
        provider = providers[name]
        # The demo pretends these two have served since before the history began
        # (so the evaluator grades them rather than calling them new).
        serving_since = current - timedelta(days=HISTORY_DAYS + 3)
        provider.submitted_at = min(provider.submitted_at, serving_since - timedelta(days=7))
        provider.activated_at = min(provider.activated_at or current, serving_since)
        staff = session.scalar(
            sa.select(User).join(ProviderStaff, ProviderStaff.user_id == User.id)
            .where(ProviderStaff.provider_id == provider.id)
        )
        listings = list(session.scalars(
            sa.select(Listing).where(Listing.provider_id == provider.id, Listing.status == ListingStatus.PUBLISHED)
        ))
        late_done = 0
        for _ in range(count):
            listing = rng.choice(listings)
            eligible = [r for r in residents if r.community_id in {c.id for c in listing.communities}]
            resident = rng.choice(eligible)
            day = local(current).date() - timedelta(days=rng.randint(2, HISTORY_DAYS))
            starts = slot_starts_on(listing, day)
            if not starts:
                continue
            starts_at, window = rng.choice(starts)
            slot = _slot(session, listing, starts_at, window.capacity)
            if slot.taken >= slot.capacity:
                continue
            requested_at = starts_at - timedelta(days=2, hours=rng.randint(0, 20))
            respond_by = min(requested_at + timedelta(hours=listing.response_hours), starts_at)
            booking = Booking(
                listing_id=listing.id, listing_version=listing.version, provider_id=provider.id,
                resident_id=resident.id, community_id=resident.community_id, slot_id=slot.id,
                status=S.REQUESTED, address=f"{resident.community.name}{rng.randint(1, 30)}号楼",
                note="", price_fen=listing.price_fen, requested_at=requested_at, respond_by=respond_by,
                starts_at=starts_at, ends_at=starts_at + timedelta(minutes=listing.duration_minutes),
                grace_minutes=15,
            )
            session.add(booking)
            session.flush()
            _event(session, booking, requested_at, resident, None, S.REQUESTED)
            roll = rng.random()
            late = roll < late_share
            booking.responded_at = requested_at + timedelta(minutes=rng.randint(10, 90))
            booking.late_response = booking.responded_at > respond_by
            booking.status = S.ACCEPTED
            _event(session, booking, booking.responded_at, staff, S.REQUESTED, S.ACCEPTED)
            if rng.random() < cancel_share:
                booking.status = S.CANCELLED_BY_PROVIDER
                booking.status_reason = "人手不足"
                booking.closed_at = starts_at - timedelta(hours=3)
                _event(session, booking, booking.closed_at, staff, S.ACCEPTED, S.CANCELLED_BY_PROVIDER, "人手不足")
                written += 1
                continue
            slot.taken += 1
            booking.checked_in_at = starts_at + timedelta(minutes=rng.randint(35, 70) if late else rng.randint(-10, 10))
            booking.late_start = late
            _event(session, booking, booking.checked_in_at, staff, S.ACCEPTED, S.IN_SERVICE)
            booking.completed_at = booking.ends_at + timedelta(minutes=rng.randint(20, 50) if late else rng.randint(-5, 10))
            booking.late_finish = late
            booking.status = S.COMPLETED
            booking.confirmed_at = booking.completed_at + timedelta(hours=rng.randint(2, 30))
            _event(session, booking, booking.completed_at, staff, S.IN_SERVICE, S.COMPLETED)
            late_done += int(late)
            if rng.random() < 0.7:
                score = rng.randint(low, high) if not late else max(1, low - 1)
                quality = min(5, score + rng.randint(0, 1))
                rng.randrange(5)  # was the comment's draw: the history that follows stays the same
                # The words come from their own generator, so they change nothing else.
                comment, tags = review_for(words, score, late)
                detailed = words.random() < 0.6  # the detailed scores are optional
                session.add(Rating(
                    booking_id=booking.id, resident_id=resident.id, provider_id=provider.id,
                    listing_id=listing.id, overall=score,
                    timeliness=(score if not late else 1) if detailed else None,
                    quality=quality if detailed else None,
                    attitude=score if detailed else None, comment=comment,
                    tag_rows=[RatingTag(code=tag.value) for tag in tags],
                    created_at=booking.completed_at + timedelta(hours=rng.randint(3, 48)),
                ))
            if late and late_done <= complaints and official is not None:
                session.add(Complaint(
                    booking_id=booking.id, resident_id=resident.id, provider_id=provider.id,
                    kind=ComplaintKind.LATE, description="约好九点，快十点才到，也没有提前电话说明。",
                    status=ComplaintStatus.UPHELD, created_at=booking.completed_at + timedelta(hours=2),
                    respond_by=booking.completed_at + timedelta(hours=50),
                    response="交通原因迟到，已向居民道歉。", responded_at=booking.completed_at + timedelta(hours=20),
                    responded_by_id=staff.id, decided_at=booking.completed_at + timedelta(days=3),
                    decided_by_id=official.id, decision_reason="迟到超过半小时且未提前告知，投诉成立。",
                ))
            written += 1
        session.flush()
        for listing in listings:
            refresh_listing_rating(session, listing.id)
    return written
