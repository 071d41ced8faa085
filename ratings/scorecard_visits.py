"""Proof-of-service figures: is each government-paid visit shown to have happened?

The visits are the provider's **programme-funded bookings that were checked
out** (status completed) with the check-out (``completed_at``) in the window:
:data:`PROGRAMME_VISITS`.  Over them, each figure is defined once here:

- **verified-visit rate** (:data:`VERIFIED_RATE`): visits with a verification
  (code, resident or proxy confirmation, follow-up call: ``VisitRecord.verified_at``)
  over all visits.  Like every rate its ids are its numerator's; the visits NOT
  verified are a figure of their own (:data:`UNVERIFIED_VISITS`), and they are
  the evidence of the evaluator's threshold, because those are what an official checks;
- **not-served findings** (:data:`NOT_SERVED_VISITS`): visits whose follow-up
  call is done with the outcome "not served" (an upheld finding);
- **flagged-visit rate** (:data:`FLAGGED_RATE`): visits with at least one
  anomaly flag still open (an official's clearance takes it out) over all visits;
- **follow-up satisfaction** (:data:`FOLLOW_UP_SATISFACTION`): the mean of the
  satisfaction (1–5) recorded on the done calls about those visits, to one
  decimal rounded half up, and the number of calls (:data:`FOLLOW_UP_CALLS`).

They are scorecard metrics like the others (``where(window)``, ``members``,
``tally``), so :func:`ratings.scorecard.figures_select` computes them in the
same one statement for one or all providers: the booking counts in the
booking pass, the satisfaction in one pass over ``follow_up_call``.  The
scorecard page, the API and the evaluator all read them from there.

Verification, flags and calls are facts stored by :mod:`providers.visits` and
:mod:`ratings.followups` when they happen; these definitions only read them,
through non-correlated ``IN`` subqueries (read once, not per booking).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from providers.bookings.models import Booking, BookingStatus, Funding
from providers.visits.models import VisitFlag, VisitRecord
from ratings.followups.models import CallOutcome, CallStatus, FollowUpCall
from ratings.scorecard_metrics import BOOKINGS, CountMetric, RateMetric, Subject, _counted_booking
from ratings.scorecard_window import Window

FOLLOW_UPS = Subject("follow_up_call", FollowUpCall)

SATISFACTION_PLACES = Decimal("0.1")


def _visit(w: Window) -> sa.ColumnElement[bool]:
    """A programme visit served in the window and recorded under proof of service (it has a
    visit record: it was checked in to since Linli records visits).  A visit served before
    that has nothing to verify it by, and is not judged by these figures."""
    return sa.and_(Booking.funding == Funding.PROGRAMME, Booking.status == BookingStatus.COMPLETED,
                   w.holds(Booking.completed_at), Booking.id.in_(sa.select(VisitRecord.booking_id)))


def _verified() -> sa.ColumnElement[bool]:
    return Booking.id.in_(sa.select(VisitRecord.booking_id).where(VisitRecord.verified_at.is_not(None)))


def _open_flag() -> sa.ColumnElement[bool]:
    return Booking.id.in_(sa.select(VisitFlag.booking_id).where(VisitFlag.cleared_at.is_(None)))


def _done_call(*conditions) -> sa.Select:
    return sa.select(FollowUpCall.booking_id).where(FollowUpCall.status == CallStatus.DONE, *conditions)


def _not_served() -> sa.ColumnElement[bool]:
    return Booking.id.in_(_done_call(FollowUpCall.outcome == CallOutcome.NOT_SERVED))


PROGRAMME_VISITS = CountMetric(
    "programme_visits", _l("Programme visits"),
    _l("Visits paid by a purchase programme that were checked out in the window. The visit "
       "figures below are taken over these."),
    BOOKINGS, _visit,
)
VERIFIED_VISITS = CountMetric(
    "verified_visits", _l("Verified visits"),
    _l("Programme visits the resident confirmed: by the visit code, in the app (or a family "
       "member for them), or on a follow-up call."),
    BOOKINGS, lambda w: sa.and_(_visit(w), _verified()),
)
UNVERIFIED_VISITS = CountMetric(
    "unverified_visits", _l("Unverified visits"),
    _l("Programme visits nobody has confirmed yet: no code, no confirmation, no follow-up call "
       "saying the service was given."),
    BOOKINGS, lambda w: sa.and_(_visit(w), ~_verified()),
)
FLAGGED_VISITS = CountMetric(
    "flagged_visits", _l("Flagged visits"),
    _l("Programme visits with at least one anomaly flag still open (for example checked in far "
       "from home, or too short). A flag an official cleared no longer counts."),
    BOOKINGS, lambda w: sa.and_(_visit(w), _open_flag()),
)
NOT_SERVED_VISITS = CountMetric(
    "not_served_visits", _l("Not-served findings"),
    _l("Programme visits where the resident said on the follow-up call that the service was not "
       "given. Each one is an upheld finding."),
    BOOKINGS, lambda w: sa.and_(_visit(w), _not_served()),
)
FOLLOW_UP_CALLS = CountMetric(
    "follow_up_calls", _l("Follow-up calls with a satisfaction score"),
    _l("Follow-up calls finished about the programme visits in the window in which the resident "
       "gave a satisfaction score."),
    FOLLOW_UPS,
    lambda w: sa.and_(FollowUpCall.status == CallStatus.DONE, FollowUpCall.satisfaction.is_not(None),
                      # the visits of the booking figures: not those an official excluded
                      FollowUpCall.booking_id.in_(sa.select(Booking.id).where(_visit(w), _counted_booking()))),
)
VERIFIED_RATE = RateMetric(
    "verified_rate", _l("Verified-visit rate"),
    _l("Verified visits divided by programme visits (0 when there were none). The unverified "
       "visits are listed under their own figure."),
    VERIFIED_VISITS, PROGRAMME_VISITS,
)
FLAGGED_RATE = RateMetric(
    "flagged_rate", _l("Flagged-visit rate"),
    _l("Flagged visits divided by programme visits (0 when there were none)."),
    FLAGGED_VISITS, PROGRAMME_VISITS,
)


def satisfaction_mean(total: int, count: int) -> Decimal | None:
    """The mean score to one decimal, half up (4.25 → 4.3); None without calls."""
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(SATISFACTION_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SatisfactionMetric:
    """The mean of ``FollowUpCall.satisfaction`` over the calls a count metric selects.

    Rounded in SQL with integers exactly as :func:`satisfaction_mean` does
    (tenths = ⌊(20 × sum + count) / (2 × count)⌋, half up for positive scores),
    so the evaluator's figure and the page's are the same number.
    """

    key: str
    label: object
    explains: object
    calls: CountMetric
    kind: str = field(default="mean", init=False)
    places: int = 1

    @property
    def subject(self) -> Subject:
        return self.calls.subject

    @staticmethod
    def expression(total, count) -> sa.ColumnElement[float]:
        tenths = (total * 20 + count) // (count * 2)
        return sa.case((count == 0, sa.null()), else_=sa.cast(tenths, sa.Float) / 10.0)

    @staticmethod
    def value(total: int, count: int) -> Decimal | None:
        return satisfaction_mean(total, count)

    @staticmethod
    def exact(value: float | None) -> Decimal | None:
        """The SQL figure (a float of one decimal) as the Decimal it stands for."""
        return None if value is None else Decimal(round(value * 10)) / 10

    def per_provider(self, window: Window) -> sa.Select:
        return (
            sa.select(FollowUpCall.provider_id.label("provider_id"),
                      self.expression(sa.func.sum(FollowUpCall.satisfaction), sa.func.count(FollowUpCall.id))
                      .label("value"))
            .where(self.calls.where(window))
            .group_by(FollowUpCall.provider_id)
        )

    def members(self, window: Window, provider_id: int) -> sa.Select:
        return self.calls.members(window, provider_id)


FOLLOW_UP_SATISFACTION = SatisfactionMetric(
    "follow_up_satisfaction", _l("Follow-up satisfaction"),
    _l("Mean satisfaction (1 to 5) the residents gave on the follow-up calls about the programme "
       "visits in the window, to one decimal (none without calls)."),
    FOLLOW_UP_CALLS,
)

# Counted in the scorecard's one pass over bookings.
VISIT_COUNTS = (PROGRAMME_VISITS, VERIFIED_VISITS, UNVERIFIED_VISITS, FLAGGED_VISITS, NOT_SERVED_VISITS)
VISIT_RATES = (VERIFIED_RATE, FLAGGED_RATE)
# Display order on the scorecard.
VISIT_METRICS = (PROGRAMME_VISITS, VERIFIED_VISITS, UNVERIFIED_VISITS, VERIFIED_RATE, NOT_SERVED_VISITS,
                 FLAGGED_VISITS, FLAGGED_RATE, FOLLOW_UP_CALLS, FOLLOW_UP_SATISFACTION)


def visit_facts(session, booking_ids) -> dict[int, dict]:
    """Why each visit counts: ``{booking_id: {"verified": bool, "flags": [rule labels],
    "not_served": bool}}`` for the given bookings (two statements: records with calls, open flags).

    For the evidence tables of the scorecard page and the penalty report.
    """
    ids = list(booking_ids)
    if not ids:
        return {}
    out = {i: {"verified": False, "flags": [], "not_served": False} for i in ids}
    rows = session.execute(
        sa.select(Booking.id, VisitRecord.verified_at, FollowUpCall.status, FollowUpCall.outcome)
        .outerjoin(VisitRecord, VisitRecord.booking_id == Booking.id)
        .outerjoin(FollowUpCall, FollowUpCall.booking_id == Booking.id)
        .where(Booking.id.in_(ids))
    )
    for booking_id, verified_at, status, outcome in rows:
        out[booking_id]["verified"] = verified_at is not None
        out[booking_id]["not_served"] = status == CallStatus.DONE and outcome == CallOutcome.NOT_SERVED
    flags = session.scalars(
        sa.select(VisitFlag).where(VisitFlag.booking_id.in_(ids), VisitFlag.cleared_at.is_(None))
        .order_by(VisitFlag.booking_id, VisitFlag.rule)
    )
    for flag in flags:
        out[flag.booking_id]["flags"].append(flag.rule_label)
    return out


def visit_reasons(session, booking_ids) -> dict[int, list[str]]:
    """Why each visit counts against its provider, in words (unverified, its open flags,
    not served), for the evidence tables of the scorecard page and the penalty report."""
    reasons = {}
    for booking_id, facts in visit_facts(session, booking_ids).items():
        out = []
        if not facts["verified"]:
            out.append(str(_l("Not verified")))
        if facts["flags"]:
            out.append(str(_l("Open flags: %(rules)s", rules=", ".join(facts["flags"]))))
        if facts["not_served"]:
            out.append(str(_l("Not served (follow-up call)")))
        reasons[booking_id] = out
    return reasons
