"""Scorecard pages: a provider's staff see their own, officials see any provider's.

Every figure is shown with what it counts and a link (``?metric=<key>``) to the
bookings, complaints or ratings behind it, so nothing is a bare number.  The
definitions live in :mod:`ratings.scorecard`; these views only choose the
window and render.  Residents' names and phones never appear here: a booking
is shown by its number, service and times.

A page runs a fixed number of statements whatever the number of bookings: the
caller and the provider, one for every figure, and one for the chosen
figure's evidence (see tests/test_scorecard.py); for a proof-of-service figure
two more say why each visit counts (``sc.visit_reasons``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import official_required, provider_staff_required
from app.extensions import db
from providers import registration
from providers.bookings.models import Booking
from providers.models import Provider, QualificationDocument
from ratings import scorecard as sc
from ratings.followups.models import FollowUpCall
from ratings.models import Complaint, Rating
from ratings.supervision import rules
from ratings.supervision.exclusions import exclusion_map
from ratings.supervision.views import scorecard_section

bp = Blueprint("scorecard", __name__, template_folder="templates")

WINDOW_CHOICES = (30, 90, 365)
EVIDENCE_LIMIT = 200  # rows shown on the page; the API lists every id


def window_choices() -> tuple[int, ...]:
    return tuple(sorted({*WINDOW_CHOICES, sc.default_window_days()}))


# --- Evidence: the rows behind a figure ---------------------------------------


def evidence(metric, window: sc.Window, provider_id: int, limit: int = EVIDENCE_LIMIT) -> list:
    """The bookings, complaints, ratings or documents behind ``metric`` (one statement), newest first."""
    members = metric.members(window, provider_id)
    subject = metric.subject
    if subject is sc.BOOKINGS:
        stmt = (sa.select(Booking).options(joinedload(Booking.listing))
                .where(Booking.id.in_(members)).order_by(Booking.starts_at.desc(), Booking.id.desc()))
    elif subject is sc.COMPLAINTS:
        stmt = (sa.select(Complaint).options(joinedload(Complaint.booking).joinedload(Booking.listing))
                .where(Complaint.id.in_(members)).order_by(Complaint.decided_at.desc(), Complaint.id.desc()))
    elif subject is sc.FOLLOW_UPS:
        stmt = (sa.select(FollowUpCall).options(joinedload(FollowUpCall.booking).joinedload(Booking.listing))
                .where(FollowUpCall.id.in_(members)).order_by(FollowUpCall.recorded_at.desc(), FollowUpCall.id.desc()))
    elif subject is sc.DOCUMENTS:
        stmt = (sa.select(QualificationDocument).where(QualificationDocument.id.in_(members))
                .order_by(QualificationDocument.expires_on.desc(), QualificationDocument.id.desc()))
    else:
        stmt = (sa.select(Rating).options(joinedload(Rating.booking).joinedload(Booking.listing))
                .where(Rating.id.in_(members)).order_by(Rating.created_at.desc(), Rating.id.desc()))
    return list(db.session.scalars(stmt.limit(limit)))


def how_long(delta: timedelta) -> str:
    """``1 h 05 min`` / ``23 min`` (never negative)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return _("%(m)d min", m=minutes)
    return _("%(h)d h %(m)02d min", h=minutes // 60, m=minutes % 60)


def lateness(booking: Booking) -> list[str]:
    """What was late about a booking, and by how much."""
    facts = []
    if booking.late_response:
        if booking.responded_at is None:
            facts.append(_("No answer by the respond-by time"))
        else:
            facts.append(_("Answered %(late)s after the respond-by time",
                           late=how_long(booking.responded_at - booking.respond_by)))
    if booking.late_start and booking.checked_in_at is not None:
        facts.append(_("Checked in %(late)s after the start", late=how_long(booking.checked_in_at - booking.starts_at)))
    if booking.late_finish and booking.completed_at is not None:
        facts.append(_("Finished %(late)s after the end", late=how_long(booking.completed_at - booking.ends_at)))
    return facts


def shown_value(figure: sc.Figure, card: sc.Scorecard) -> str:
    """A figure as text: counts as numbers, rates as percentages with their parts."""
    metric, value = figure.metric, figure.value
    if value is None:
        return _("none")
    if metric.kind == "rate":
        return _("%(percent).1f%% (%(part)d of %(whole)d)", percent=value * 100,
                 part=card[metric.numerator.key].value or 0, whole=card[metric.denominator.key].value or 0)
    if isinstance(metric, sc.SatisfactionMetric):
        return _("%(mean)s (follow-up calls: %(num)d)", mean=value, num=card[metric.calls.key].value or 0)
    if metric.kind == "mean":
        return f"{value:.2f}"
    return str(value)


def behind(metric):
    """The count metric whose rows are a figure's evidence (a rate's numerator, a mean's ratings)."""
    if metric.kind == "rate":
        return metric.numerator
    if isinstance(metric, sc.SatisfactionMetric):
        return metric.calls
    if metric.kind == "mean":
        return metric.ratings
    return metric


# --- Thresholds beside their figures ----------------------------------------------------
#
# The thresholds and the early-warning share are the rule set's (ratings/supervision/rules.py:
# ``THRESHOLDS``, ``Threshold.reached``, ``warning_percent``), read from the version in force;
# this page only says which figure each one sits beside and words it.

BREACH, NEAR, WITHIN = "breach", "near", "within"
STATE_LABELS = {BREACH: _l("Over the threshold"), NEAR: _l("Close to the threshold"), WITHIN: _l("Within")}


@dataclass(frozen=True)
class Mark:
    """One threshold beside the figure it judges, and where the figure stands against it."""

    key: str
    label: str
    limit: str
    state: str

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


def _units(value: int) -> str:
    """Basis points as a percent, or a score ×100 as a score: 1000 → "10", 350 → "3.5"."""
    shown = (Decimal(value) / 100).normalize()
    return f"{shown:f}"


def threshold_figure(threshold: rules.Threshold) -> str:
    """The key of the figure a threshold sits beside: its rate when the scorecard has that
    rate, the weighted rating for the rating, else its count."""
    if threshold.below_field:
        return sc.RATING_MEAN.key
    if threshold.rate_field:
        for metric in sc.METRICS.values():
            if (metric.kind == "rate" and metric.numerator.key == threshold.numerator
                    and metric.denominator.key == threshold.denominator_key):
                return metric.key
    return threshold.count_key


def limit_text(threshold: rules.Threshold, rule_set) -> str:
    limits = threshold.limits(rule_set)
    count = limits["min_count"]
    if "rate_bp" in limits:
        return _("above %(rate)s%% (and at least %(count)d)", rate=_units(limits["rate_bp"]), count=count)
    if "rate_below_bp" in limits:
        return _("below %(rate)s%% (with at least %(count)d visits)", rate=_units(limits["rate_below_bp"]),
                 count=count)
    if "below_x100" in limits:
        return _("below %(score)s (with at least %(count)d ratings)", score=_units(limits["below_x100"]), count=count)
    return _("at least %(count)d", count=count)


def threshold_marks(rule_set, card: sc.Scorecard) -> dict[str, list[Mark]]:
    """``{figure key: [Mark, …]}``: each threshold of ``rule_set`` beside its figure, breached
    (``Threshold.reached``), close (reached at the rule set's ``warning_percent``) or within."""
    figures = card.values()
    count, raw_mean = figures.get(sc.RATING_COUNT.key) or 0, figures.get(sc.RATING_RAW_MEAN.key)
    figures["rating_sum"] = round(raw_mean * count) if raw_mean is not None else 0
    marks: dict[str, list[Mark]] = {}
    for key, threshold in rules.THRESHOLDS.items():
        if threshold.reached(rule_set, figures):
            state = BREACH
        elif threshold.reached(rule_set, figures, rule_set.warning_percent):
            state = NEAR
        else:
            state = WITHIN
        marks.setdefault(threshold_figure(threshold), []).append(
            Mark(key, str(threshold.label), limit_text(threshold, rule_set), state))
    return marks


# --- The pages ----------------------------------------------------------------------

SUBJECT_NOUNS = {"booking": _l("bookings"), "complaint": _l("complaints"), "rating": _l("ratings"),
                 "document": _l("documents"), "follow_up_call": _l("follow-up calls")}
VISIT_KEYS = frozenset(m.key for m in sc.VISIT_METRICS if m.subject is sc.BOOKINGS)


def render_scorecard(provider: Provider, *, endpoint: str, url_args: dict):
    """The scorecard page of ``provider`` (200), or 400 with a message for an unknown
    window or figure (then the default window and no evidence are shown)."""
    problems = []
    days = sc.default_window_days()
    chosen_days = request.args.get("days")
    if chosen_days is not None:
        if chosen_days.isdigit() and int(chosen_days) in window_choices():
            days = int(chosen_days)
        else:
            problems.append(_("Choose a window of %(choices)s days.",
                              choices=", ".join(str(d) for d in window_choices())))
    metric = None
    chosen_metric = request.args.get("metric")
    if chosen_metric:
        metric = sc.METRICS.get(chosen_metric)
        if metric is None:
            problems.append(_("There is no such figure on the scorecard."))
    window = sc.current_window(days)
    card = sc.scorecard(db.session, provider.id, window)
    rule_set = rules.current(db.session)
    rows = evidence(metric, window, provider.id) if metric is not None else []
    excluded = exclusion_map(db.session, [row.id for row in rows]) if metric is not None and metric.subject is sc.BOOKINGS else {}
    # Why each visit counts (unverified, open flags, not served): two more statements.
    reasons = sc.visit_reasons(db.session, [row.id for row in rows]) if metric is not None and metric.key in VISIT_KEYS else {}
    return render_template(
        "scorecard/scorecard.html",
        provider=provider,
        card=card,
        window=window,
        days=days,
        choices=window_choices(),
        metric=metric,
        rows=rows,
        total=card[behind(metric).key].value if metric is not None else 0,
        limit=EVIDENCE_LIMIT,
        problems=problems,
        endpoint=endpoint,
        url_args=url_args,
        shown_value=shown_value,
        lateness=lateness,
        subject_nouns=SUBJECT_NOUNS,
        official_view=current_user.is_official,
        excluded=excluded,
        reasons=reasons,
        supervision=scorecard_section(provider.id),
        rule_set=rule_set,
        marks=threshold_marks(rule_set, card),
    ), 400 if problems else 200


@bp.route("/provider/scorecard")
@provider_staff_required
def my_scorecard():
    """The caller's provider's scorecard over the chosen window (200; 400 for bad parameters)."""
    provider = registration.provider_of(db.session, current_user)
    return render_scorecard(provider, endpoint="scorecard.my_scorecard", url_args={})


@bp.route("/official/providers/<int:provider_id>/scorecard")
@official_required
def provider_scorecard(provider_id: int):
    """Any provider's scorecard, for officials (200; 404 for an unknown provider)."""
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        abort(404)
    return render_scorecard(provider, endpoint="scorecard.provider_scorecard",
                            url_args={"provider_id": provider.id})
