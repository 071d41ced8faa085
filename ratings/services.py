"""Ratings of completed bookings: rate, reply, hide and unhide, and what the public sees.

Only the resident of a completed booking rates it, once (a unique constraint
guards the race), within ``RATING_WINDOW_DAYS`` of its completion.  The overall
score is required; the detailed scores and the quick tags (fixed codes,
:class:`ratings.models.RatingTagCode`) are optional; every problem with what was
sent is refused at once (:class:`app.errors.Problems`).  The
provider replies once.  An official hides a rating with a reason; it stays
stored and audited and leaves the public average.  A listing's public figures
(``Listing.rating_sum`` / ``rating_count``) are always recomputed from the
non-hidden ratings by :func:`refresh_listing_rating`.  Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound, Problems
from app.models import User
from app.notifications import notify
from providers.bookings.models import Booking, BookingStatus
from providers.bookings.services import resident_booking, staff_ids
from providers.catalogue import bayesian_mean
from providers.models import Listing
from providers.registration import provider_of
from ratings.models import Rating, RatingTag, RatingTagCode

MAX_COMMENT = 1000
MAX_REPLY = 1000
MAX_REASON = 1000
PUBLIC_LIMIT = 20

SCORE_FIELDS = ("overall", "timeliness", "quality", "attitude")
DETAIL_FIELDS = ("timeliness", "quality", "attitude")  # optional
SCORE_LABELS = {
    "overall": _l("Overall"),
    "timeliness": _l("Timeliness"),
    "quality": _l("Quality"),
    "attitude": _l("Attitude"),
}


# --- the listing's public figures ---------------------------------------------


def refresh_listing_rating(session: Session, listing_id: int) -> None:
    """Set the listing's ``rating_sum`` / ``rating_count`` from its non-hidden ratings.

    The listing row is locked first, so two ratings saved at once cannot both
    write a total that misses the other (on PostgreSQL the aggregate, run after
    the lock is granted, sees the other's committed row).
    """
    listing = session.scalar(sa.select(Listing).where(Listing.id == listing_id).with_for_update())
    if listing is None:
        return
    total, count = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Rating.overall), 0), sa.func.count(Rating.id)).where(
            Rating.listing_id == listing_id, Rating.hidden_at.is_(None)
        )
    ).one()
    listing.rating_sum, listing.rating_count = int(total), int(count)
    session.flush()


# --- input ----------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_score(value, field: str, *, required: bool = True) -> int | None:
    """A score of 1–5 stars from a form (text) or JSON (integer); Invalid otherwise.
    An optional score not given is None."""
    label = SCORE_LABELS[field]
    if _missing(value) and not required:
        return None
    if _missing(value) and field == "overall":
        raise Invalid(_l("Choose the overall score: 1 to 5 stars (the other scores are optional)."),
                      field=field)
    if _missing(value):
        raise Invalid(_l("Choose a score from 1 to 5 stars for “%(label)s”.", label=label), field=field)
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None:
        raise Invalid(
            _l("“%(label)s” must be a whole number of stars from 1 to 5.", label=label), field=field
        )
    if not 1 <= number <= 5:
        raise Invalid(
            _l("“%(label)s” must be from 1 to 5 stars (you gave %(n)d).", label=label, n=number),
            field=field,
        )
    return number


def check_tags(values) -> list[RatingTagCode]:
    """The quick tags chosen (codes from a form or JSON), each once; Invalid for an unknown one."""
    if values is None or values == "":
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)) or not all(isinstance(value, str) for value in values):
        raise Invalid(_l("Tags must be a list of tag codes."), field="tags")
    known = {code.value: code for code in RatingTagCode}
    unknown = [str(value) for value in values if value not in known]
    if unknown:
        raise Invalid(_l("Unknown tag: %(tags)s. Choose from the tags shown.", tags=", ".join(unknown)[:200]),
                      field="tags")
    chosen = {known[value] for value in values}
    return [code for code in RatingTagCode if code in chosen]


def _text(value: str | None, field: str, limit: int, *, required: bool, missing=None) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Invalid(missing, field=field)
    if len(text) > limit:
        raise Invalid(_l("This is too long (%(n)d characters at most).", n=limit), field=field)
    return text


# --- residents: rate -------------------------------------------------------------


def rating_deadline(booking: Booking):
    """The last moment the booking may be rated (or None when it is not completed)."""
    if booking.completed_at is None:
        return None
    return booking.completed_at + timedelta(days=int(current_app.config["RATING_WINDOW_DAYS"]))


def rating_of_booking(session: Session, booking_id: int) -> Rating | None:
    return session.scalar(sa.select(Rating).where(Rating.booking_id == booking_id))


def why_not_rate(session: Session, booking: Booking) -> Conflict | None:
    """The one rule of "may this booking be rated now": None when it may, else the refusal
    (409 with the reason).  The rate page enforces it (:func:`check_can_rate`) and the
    booking page offers its button by it (the fact ``ratings.may_rate``)."""
    if rating_of_booking(session, booking.id) is not None:
        return Conflict(_l("You have already rated this booking."))
    if booking.status != BookingStatus.COMPLETED or booking.completed_at is None:
        return Conflict(_l("Only a completed booking can be rated; this one is: %(status)s.",
                           status=booking.status_label))
    if now() > rating_deadline(booking):
        return Conflict(_l("Ratings are accepted for %(n)d days after the service; this booking "
                           "can no longer be rated.", n=int(current_app.config["RATING_WINDOW_DAYS"])))
    return None


def may_rate(session: Session, booking: Booking) -> bool:
    """Whether the rate page would accept a rating of this booking now."""
    return why_not_rate(session, booking) is None


def check_can_rate(session: Session, booking: Booking) -> None:
    """Raise why this (own) booking cannot be rated now: 409 with the reason."""
    refusal = why_not_rate(session, booking)
    if refusal is not None:
        raise refusal


def rate_booking(
    session: Session,
    resident: User,
    booking_id: int,
    *,
    overall,
    timeliness=None,
    quality=None,
    attitude=None,
    tags=None,
    comment: str | None = "",
) -> Rating:
    """The resident rates their completed booking: the overall score (required), the detailed
    scores and quick tags (optional) and a comment.  404 someone else's booking, 409 not now,
    422 every bad score, tag or comment at once (:class:`Problems`, each on its field)."""
    if not resident.is_resident:
        raise Forbidden(_l("Only residents can rate services."))
    booking = resident_booking(session, resident, booking_id, for_update=True)
    check_can_rate(session, booking)
    raw = {"overall": overall, "timeliness": timeliness, "quality": quality, "attitude": attitude}
    problems = Problems()
    scores: dict[str, int | None] = {}
    for name in SCORE_FIELDS:
        try:
            scores[name] = check_score(raw[name], name, required=name not in DETAIL_FIELDS)
        except Invalid as error:
            problems.extend(error)
    chosen: list[RatingTagCode] = []
    try:
        chosen = check_tags(tags)
    except Invalid as error:
        problems.extend(error)
    try:
        comment = _text(comment, "comment", MAX_COMMENT, required=False)
    except Invalid as error:
        problems.extend(error)
    problems.raise_if_any()
    rating = Rating(
        booking_id=booking.id, resident_id=resident.id, provider_id=booking.provider_id,
        listing_id=booking.listing_id, comment=comment, created_at=now(), **scores,
        tag_rows=[RatingTag(code=code.value) for code in chosen],
    )
    try:
        with session.begin_nested():
            session.add(rating)
    except IntegrityError:
        # Another request rated it between our check and our insert.
        raise Conflict(_l("You have already rated this booking.")) from None
    refresh_listing_rating(session, booking.listing_id)
    notify(session, staff_ids(session, booking.provider_id), "rating.received",
           link="/provider/ratings", booking=booking.id, stars=scores["overall"])
    return rating


# --- providers: reply ------------------------------------------------------------


def provider_rating(session: Session, staff: User, rating_id: int, *, for_update: bool = False) -> Rating:
    """A rating of the staff member's provider (403 not staff, 404 any other rating)."""
    provider = provider_of(session, staff)
    stmt = sa.select(Rating).where(Rating.id == rating_id, Rating.provider_id == provider.id)
    if for_update:
        stmt = stmt.with_for_update()
    rating = session.scalar(stmt)
    if rating is None:
        raise NotFound(_l("No such rating."))
    return rating


def reply_to_rating(session: Session, staff: User, rating_id: int, text: str | None) -> Rating:
    """The provider answers a rating once; the resident is told."""
    rating = provider_rating(session, staff, rating_id, for_update=True)
    if rating.reply is not None:
        raise Conflict(_l("This rating already has your reply; a rating gets one reply."))
    text = _text(text, "reply", MAX_REPLY, required=True, missing=_l("Write your reply."))
    rating.reply, rating.replied_at, rating.replied_by_id = text, now(), staff.id
    session.flush()
    audit.record(session, actor=staff, action="rating.replied", object_type="rating",
                 object_id=rating.id, after={"reply": text})
    notify(session, [rating.resident_id], "rating.replied", link=f"/bookings/{rating.booking_id}/rate",
           booking=rating.booking_id)
    return rating


# --- officials: hide and unhide --------------------------------------------------


def _official_rating(session: Session, official: User, rating_id: int) -> Rating:
    if not official.is_official:
        raise Forbidden(_l("Only officials can hide or show ratings."))
    rating = session.scalar(sa.select(Rating).where(Rating.id == rating_id).with_for_update())
    if rating is None:
        raise NotFound(_l("No such rating."))
    return rating


def _reason(reason: str | None) -> str:
    return _text(reason, "reason", MAX_REASON, required=True,
                 missing=_l("Give the reason: it is kept in the audit trail."))


def hide_rating(session: Session, official: User, rating_id: int, reason: str | None) -> Rating:
    """Take a rating out of public view (it stays stored); audited with the reason."""
    rating = _official_rating(session, official, rating_id)
    if rating.is_hidden:
        raise Conflict(_l("This rating is already hidden."))
    reason = _reason(reason)
    rating.hidden_at, rating.hidden_by_id, rating.hidden_reason = now(), official.id, reason
    session.flush()
    audit.record(session, actor=official, action="rating.hidden", object_type="rating",
                 object_id=rating.id, before={"hidden": False}, after={"hidden": True}, reason=reason)
    refresh_listing_rating(session, rating.listing_id)
    notify(session, [rating.resident_id, *staff_ids(session, rating.provider_id)], "rating.hidden",
           booking=rating.booking_id, reason=reason)
    return rating


def unhide_rating(session: Session, official: User, rating_id: int, reason: str | None) -> Rating:
    """Publish a hidden rating again; the hiding stays in the audit trail."""
    rating = _official_rating(session, official, rating_id)
    if not rating.is_hidden:
        raise Conflict(_l("This rating is not hidden."))
    reason = _reason(reason)
    before = {"hidden": True, "hidden_reason": rating.hidden_reason}
    rating.hidden_at = rating.hidden_by_id = rating.hidden_reason = None
    session.flush()
    audit.record(session, actor=official, action="rating.unhidden", object_type="rating",
                 object_id=rating.id, before=before, after={"hidden": False}, reason=reason)
    refresh_listing_rating(session, rating.listing_id)
    return rating


# --- reading -------------------------------------------------------------------------


@dataclass
class RatingPage:
    items: list[Rating]
    total: int
    page: int
    per_page: int
    overall_sum: int = 0  # of all the matching ratings (public lists only)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def mean(self) -> float:
        """The Bayesian mean of all the matching ratings (what the public sees)."""
        return bayesian_mean(self.overall_sum, self.total)


NEWEST_FIRST = (Rating.created_at.desc(), Rating.id.desc())


def _page(session: Session, stmt, page: int, per_page: int) -> RatingPage:
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page, per_page = max(1, page), max(1, per_page)
    items = list(session.scalars(
        stmt.order_by(*NEWEST_FIRST).limit(per_page).offset((page - 1) * per_page)
    ).unique())
    return RatingPage(items=items, total=total, page=page, per_page=per_page)


def published_ratings(
    session: Session, *, listing_id: int | None = None, provider_id: int | None = None,
    page: int = 1, per_page: int = PUBLIC_LIMIT,
) -> RatingPage:
    """Non-hidden ratings of a listing or a provider, newest first (no resident named).

    One query: window functions carry the count and the sum of all the matching
    ratings on every row of the page (the public pages have a query budget).
    """
    where = [Rating.hidden_at.is_(None)]
    if listing_id is not None:
        where.append(Rating.listing_id == listing_id)
    if provider_id is not None:
        where.append(Rating.provider_id == provider_id)
    page, per_page = max(1, page), max(1, per_page)
    stmt = (
        sa.select(Rating, sa.func.count().over().label("total"),
                  sa.func.sum(Rating.overall).over().label("overall_sum"))
        .where(*where).order_by(*NEWEST_FIRST).limit(per_page).offset((page - 1) * per_page)
    )
    if provider_id is not None:  # the page names the listing of each rating
        stmt = stmt.options(joinedload(Rating.booking).joinedload(Booking.listing))
    rows = session.execute(stmt).unique().all()
    if rows:
        total, overall_sum = int(rows[0].total), int(rows[0].overall_sum or 0)
    elif page > 1:  # past the last page: the totals need their own query
        total, overall_sum = session.execute(
            sa.select(sa.func.count(Rating.id), sa.func.coalesce(sa.func.sum(Rating.overall), 0)).where(*where)
        ).one()
    else:
        total, overall_sum = 0, 0
    return RatingPage(items=[row[0] for row in rows], total=int(total), page=page, per_page=per_page,
                      overall_sum=int(overall_sum))


@dataclass(frozen=True)
class TagCount:
    code: RatingTagCode
    count: int


def tag_counts(session: Session, *, listing_id: int | None = None, provider_id: int | None = None,
               published_only: bool = True) -> list[TagCount]:
    """How often each quick tag was chosen in the (published) ratings of a listing or a
    provider, most chosen first, positive before negative on a tie (one query)."""
    where = [RatingTag.rating_id == Rating.id]
    if published_only:
        where.append(Rating.hidden_at.is_(None))
    if listing_id is not None:
        where.append(Rating.listing_id == listing_id)
    if provider_id is not None:
        where.append(Rating.provider_id == provider_id)
    rows = session.execute(sa.select(RatingTag.code, sa.func.count()).where(*where).group_by(RatingTag.code)).all()
    order = {code: n for n, code in enumerate(RatingTagCode)}
    counts = [TagCount(RatingTagCode(code), int(count)) for code, count in rows if code in order]
    return sorted(counts, key=lambda c: (-c.count, order[c.code]))


def provider_summary(session: Session, provider_id: int) -> tuple[float, int]:
    """The provider's public figures over all its listings: (Bayesian mean, count)."""
    total, count = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Rating.overall), 0), sa.func.count(Rating.id)).where(
            Rating.provider_id == provider_id, Rating.hidden_at.is_(None)
        )
    ).one()
    return bayesian_mean(int(total), int(count)), int(count)


def ratings_of_provider(session: Session, provider_id: int, page: int = 1, per_page: int = 20) -> RatingPage:
    """All the provider's ratings (hidden ones too, marked), newest first."""
    stmt = (sa.select(Rating).where(Rating.provider_id == provider_id)
            .options(joinedload(Rating.booking).joinedload(Booking.listing)))
    return _page(session, stmt, page, per_page)


OFFICIAL_FILTERS = ("all", "hidden", "visible")


def ratings_for_officials(session: Session, shown: str = "all", page: int = 1, per_page: int = 20) -> RatingPage:
    """Every rating, hidden ones included (``shown``: all, hidden, visible), newest first."""
    stmt = sa.select(Rating).options(
        joinedload(Rating.booking).joinedload(Booking.listing),
        joinedload(Rating.booking).joinedload(Booking.provider),
    )
    if shown == "hidden":
        stmt = stmt.where(Rating.hidden_at.is_not(None))
    elif shown == "visible":
        stmt = stmt.where(Rating.hidden_at.is_(None))
    return _page(session, stmt, page, per_page)
