"""Every scorecard figure, defined once (the kinds are in :mod:`ratings.scorecard_metrics`).

Lateness, deadlines and outcomes are facts stored on the booking when they
happen (``providers/bookings/models.py``); these definitions only read them.
Each rule takes the :class:`~ratings.scorecard_window.Window`; the booking,
complaint and rating figures count what happened in it, the document figure
is the state at its end (its local day).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from providers.bookings.models import Booking, BookingStatus
from providers.catalogue import RATING_PRIOR_MEAN, RATING_PRIOR_WEIGHT
from providers.models import QualificationDocument
from ratings.models import Complaint, ComplaintStatus, Rating
from ratings.scorecard_metrics import (
    BOOKINGS,
    COMPLAINTS,
    DOCUMENTS,
    RATINGS,
    CountMetric,
    MeanMetric,
    RateMetric,
    _excluded_booking,
)
from ratings.scorecard_visits import FOLLOW_UP_CALLS, VISIT_COUNTS, VISIT_METRICS, VISIT_RATES

S = BookingStatus

# Bookings that were due to happen: the provider had to serve them (or did not).
DUE_AT_START = (S.COMPLETED, S.NO_SHOW_PROVIDER, S.NO_SHOW_RESIDENT, S.CANCELLED_BY_PROVIDER)


def _newest_copy_expired(on: date) -> sa.ColumnElement[bool]:
    """The document is the newest copy of its kind for its provider (the latest expiry;
    the higher id on a tie) and expired before ``on``.  So the figure counts the kinds
    whose newest copy has expired, and its evidence is exactly those copies: a renewed
    document of the same kind replaces an expired one.  Only documents in force count
    (a renewal waiting in the provider's change request replaces nothing yet)."""
    newer = aliased(QualificationDocument)
    doc = QualificationDocument
    return sa.and_(
        doc.expires_on < on, doc.change_id.is_(None),
        ~sa.exists().where(
            newer.provider_id == doc.provider_id, newer.kind == doc.kind, newer.change_id.is_(None),
            sa.or_(newer.expires_on > doc.expires_on, sa.and_(newer.expires_on == doc.expires_on, newer.id > doc.id)),
        ),
    )


FINISHED = CountMetric(
    "finished_bookings", _l("Bookings finished"),
    _l("Completed bookings whose completion time falls in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.COMPLETED, w.holds(Booking.completed_at)),
)
DUE = CountMetric(
    "due_bookings", _l("Bookings due"),
    _l("Bookings whose start falls in the window and that were completed, cancelled by the provider "
       "or missed by either side, plus requests that expired unanswered in the window. Rates are "
       "taken over these."),
    BOOKINGS,
    lambda w: sa.or_(
        sa.and_(Booking.status.in_(DUE_AT_START), w.holds(Booking.starts_at)),
        sa.and_(Booking.status == S.EXPIRED, w.holds(Booking.respond_by)),
    ),
)
LATE_RESPONSES = CountMetric(
    "late_responses", _l("Late responses"),
    _l("Requests answered after their respond-by time, or never answered (expired), with the "
       "respond-by time in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.late_response.is_(True), w.holds(Booking.respond_by)),
)
LATE_STARTS = CountMetric(
    "late_starts", _l("Late starts"),
    _l("Check-ins after the start plus the grace time, with the start in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.late_start.is_(True), w.holds(Booking.starts_at)),
)
LATE_FINISHES = CountMetric(
    "late_finishes", _l("Late finishes"),
    _l("Completions after the end plus the grace time, with the end in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.late_finish.is_(True), w.holds(Booking.ends_at)),
)
LATE_BOOKINGS = CountMetric(
    "late_bookings", _l("Late bookings"),
    _l("Bookings due in the window that had a late response, a late start or a late finish "
       "(each counted once), so the late rate is a share of the bookings due."),
    BOOKINGS,
    lambda w: sa.and_(
        DUE.rule(w),
        sa.or_(Booking.late_response.is_(True), Booking.late_start.is_(True), Booking.late_finish.is_(True)),
    ),
)
PROVIDER_CANCELLATIONS = CountMetric(
    "provider_cancellations", _l("Cancelled by the provider"),
    _l("Bookings the provider cancelled, with the start in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.CANCELLED_BY_PROVIDER, w.holds(Booking.starts_at)),
)
PROVIDER_NO_SHOWS = CountMetric(
    "provider_no_shows", _l("Provider did not come"),
    _l("Bookings where the provider did not come (confirmed), with the start in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.NO_SHOW_PROVIDER, w.holds(Booking.starts_at)),
)
CANCELLATIONS_AND_NO_SHOWS = CountMetric(
    "cancellations_and_no_shows", _l("Provider cancellations and no-shows"),
    _l("Both of the above together."),
    BOOKINGS, lambda w: sa.or_(PROVIDER_CANCELLATIONS.rule(w), PROVIDER_NO_SHOWS.rule(w)),
)
EXPIRED_REQUESTS = CountMetric(
    "expired_requests", _l("Expired requests"),
    _l("Requests nobody answered before the respond-by time, with that time in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.EXPIRED, w.holds(Booking.respond_by)),
)
EXCLUDED_BOOKINGS = CountMetric(
    "excluded_bookings", _l("Excluded by an official"),
    _l("Bookings whose lateness or cancellation an official found outside the provider's control "
       "(the resident's fault, force majeure), with the start in the window. They count in no other "
       "figure."),
    BOOKINGS, lambda w: sa.and_(_excluded_booking(), w.holds(Booking.starts_at)), counted=False,
)
UPHELD_COMPLAINTS = CountMetric(
    "upheld_complaints", _l("Upheld complaints"),
    _l("Complaints an official upheld, with the decision in the window."),
    COMPLAINTS,
    lambda w: sa.and_(Complaint.status == ComplaintStatus.UPHELD, w.holds(Complaint.decided_at)),
)
RATING_COUNT = CountMetric(
    "rating_count", _l("Ratings"),
    _l("Published (not hidden) ratings given in the window."),
    RATINGS, lambda w: sa.and_(Rating.hidden_at.is_(None), w.holds(Rating.created_at)),
)
EXPIRED_DOCUMENTS = CountMetric(
    "expired_documents", _l("Expired qualification documents"),
    _l("Kinds of qualification document whose newest copy had expired at the end of the window "
       "(a document is valid through its expiry day; a renewed copy replaces it)."),
    DOCUMENTS, lambda w: _newest_copy_expired(w.day),
)
LATE_RATE = RateMetric(
    "late_rate", _l("Late rate"), _l("Late bookings divided by bookings due (0 when none were due)."),
    LATE_BOOKINGS, DUE,
)
CANCELLATION_RATE = RateMetric(
    "cancellation_rate", _l("Cancellation and no-show rate"),
    _l("Provider cancellations and no-shows divided by bookings due (0 when none were due)."),
    CANCELLATIONS_AND_NO_SHOWS, DUE,
)
RATING_MEAN = MeanMetric(
    "rating_mean", _l("Rating (weighted mean)"),
    _l("Mean overall score of the published ratings in the window, with a prior of %(prior).1f "
       "worth %(weight)d ratings, so a few ratings do not swing it.",
       prior=RATING_PRIOR_MEAN, weight=RATING_PRIOR_WEIGHT),
    RATING_COUNT, bayesian=True,
)
RATING_RAW_MEAN = MeanMetric(
    "rating_raw_mean", _l("Rating (plain mean)"),
    _l("Mean overall score of the published ratings in the window (none without ratings)."),
    RATING_COUNT, bayesian=False,
)

BOOKING_COUNTS = (FINISHED, DUE, LATE_RESPONSES, LATE_STARTS, LATE_FINISHES, LATE_BOOKINGS,
                  PROVIDER_CANCELLATIONS, PROVIDER_NO_SHOWS, CANCELLATIONS_AND_NO_SHOWS, EXPIRED_REQUESTS,
                  EXCLUDED_BOOKINGS, *VISIT_COUNTS)
COUNTS = (*BOOKING_COUNTS, UPHELD_COMPLAINTS, RATING_COUNT, EXPIRED_DOCUMENTS, FOLLOW_UP_CALLS)
RATES = (LATE_RATE, CANCELLATION_RATE, *VISIT_RATES)
MEANS = (RATING_MEAN, RATING_RAW_MEAN)

# Display order: activity, lateness, reliability, complaints, ratings, documents, then the
# proof-of-service figures (ratings.scorecard_visits).
METRICS = {
    metric.key: metric
    for metric in (
        FINISHED, DUE, LATE_RESPONSES, LATE_STARTS, LATE_FINISHES, LATE_BOOKINGS, LATE_RATE,
        PROVIDER_CANCELLATIONS, PROVIDER_NO_SHOWS, CANCELLATIONS_AND_NO_SHOWS, CANCELLATION_RATE,
        EXPIRED_REQUESTS, EXCLUDED_BOOKINGS, UPHELD_COMPLAINTS, RATING_COUNT, RATING_MEAN, RATING_RAW_MEAN,
        EXPIRED_DOCUMENTS, *VISIT_METRICS,
    )
}

