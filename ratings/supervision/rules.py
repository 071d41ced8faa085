"""The rule set: its fields, validation, versions, thresholds and the grade rule.

Officials change the rule set by saving a NEW version, a draft that is then
published with a comment period (ratings/supervision/publication.py); an old
version is never edited, and every version is audited.  Version 1 is the Linli
default of DOMAIN.md, seeded by the migration.  Which version applies when:
the "Versions" section (:func:`in_force`, :func:`for_period`).

Breach rule: a threshold with a rate is breached when the rate is ABOVE it
(strictly: 10 % of 50 is not above 10 %) AND the count reaches the floor
(≥ 5 late); a count-only threshold when the count reaches the floor; the rating
threshold when the Bayesian mean is strictly BELOW the cut-off with at least
the minimum number of ratings; the verified-visit rate when strictly BELOW its
limit (90 % of 10 visits is not below 90 %) with at least the minimum number of
programme visits.  All comparisons are exact (fractions).

Grade rule (documented on the rules page):

- **new**: active for fewer than ``new_provider_days`` at the as-of time
  (no breaches, no reports);
- **unqualified (不合格)**: at least ``unqualified_breaches`` breaches (default 2);
- **qualified (合格)**: one breach, or none but a rating mean below the "good"
  cut-off (with enough ratings to judge);
- **excellent (优秀)**: no breach, nothing close to a threshold, and a rating
  mean at or above the "excellent" cut-off with enough ratings;
- **good (良好)**: every other provider without a breach.

"Close" (the early warning) is reaching ``warning_percent`` (default 80 %) of a
threshold: the count at least that share of the floor (rounded up) and, for a
rate, the rate at least that share of the limit; for the rating, the mean
below ``cut-off + (5 − cut-off) × (100 − warning_percent) %``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Invalid
from providers.catalogue import RATING_PRIOR_MEAN, RATING_PRIOR_WEIGHT
from ratings import scorecard as sc
from ratings.supervision.models import Grade, Publication, RuleSet

MAX_WINDOW_DAYS = 730


@dataclass(frozen=True)
class Field:
    """One field of the rule set as officials see it (``name``) and as it is stored (``column``)."""

    name: str
    kind: str  # int, percent (stored as basis points), score (stored ×100), zone
    label: object
    low: int | Decimal | None = None
    high: int | Decimal | None = None
    column: str | None = None

    @property
    def stored(self) -> str:
        return self.column or self.name


FIELDS = (
    Field("evaluation_day", "int", _l("Evaluation day of the month"), 1, 28),
    Field("timezone", "zone", _l("Time zone of the evaluation day and the windows")),
    Field("window_days", "int", _l("Window (days)"), 1, MAX_WINDOW_DAYS),
    Field("long_window_days", "int", _l("Long window for providers with few bookings (days)"), 1, MAX_WINDOW_DAYS),
    Field("min_finished_bookings", "int", _l("Finished bookings needed for the normal window"), 0, 100_000),
    Field("new_provider_days", "int", _l("New-provider period (days, not graded)"), 0, 365),
    Field("late_rate_percent", "percent", _l("Late rate above (%)"), column="late_rate_bp"),
    Field("late_min_count", "int", _l("and at least this many late bookings"), 1, 100_000),
    Field("cancellation_rate_percent", "percent", _l("Cancellation and no-show rate above (%)"),
          column="cancellation_rate_bp"),
    Field("cancellation_min_count", "int", _l("and at least this many cancellations and no-shows"), 1, 100_000),
    Field("expired_rate_percent", "percent", _l("Expired request rate above (%)"), column="expired_rate_bp"),
    Field("expired_min_count", "int", _l("and at least this many expired requests"), 1, 100_000),
    Field("complaint_min_count", "int", _l("Upheld complaints: at least"), 1, 100_000),
    Field("rating_below", "score", _l("Rating (weighted mean) below"), column="rating_below_x100"),
    Field("rating_min_count", "int", _l("with at least this many ratings"), 1, 100_000),
    Field("expired_document_min_count", "int", _l("Expired qualification documents: at least"), 1, 100),
    Field("excellent_rating", "score", _l("Excellent: rating at least"), column="excellent_rating_x100"),
    Field("good_rating", "score", _l("Good: rating at least"), column="good_rating_x100"),
    Field("unqualified_breaches", "int", _l("Unqualified: breaches at least"), 1, 6),
    Field("warning_percent", "int", _l("Early warning at this share of a threshold (%)"), 1, 99),
    Field("ladder_days", "int", _l("Sanction ladder looks back (days)"), 1, MAX_WINDOW_DAYS),
    # Proof of service (ratings.scorecard_visits).
    Field("verified_rate_percent", "percent", _l("Verified-visit rate below (%)"), column="verified_rate_below_bp"),
    Field("verified_min_visits", "int", _l("with at least this many programme visits"), 1, 100_000),
    Field("not_served_min_count", "int", _l("Not-served findings: at least"), 1, 100_000),
    Field("flagged_rate_percent", "percent", _l("Flagged-visit rate above (%)"), column="flagged_rate_bp"),
    Field("flagged_min_count", "int", _l("and at least this many flagged visits"), 1, 100_000),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)

# The Linli default (DOMAIN.md), in officials' units.
DEFAULTS = {
    "evaluation_day": 1, "timezone": "Asia/Shanghai", "window_days": 90, "long_window_days": 365,
    "min_finished_bookings": 20, "new_provider_days": 90,
    "late_rate_percent": Decimal("10"), "late_min_count": 5,
    "cancellation_rate_percent": Decimal("5"), "cancellation_min_count": 3,
    "expired_rate_percent": Decimal("10"), "expired_min_count": 3,
    "complaint_min_count": 3, "rating_below": Decimal("3.5"), "rating_min_count": 10,
    "expired_document_min_count": 1, "excellent_rating": Decimal("4.5"), "good_rating": Decimal("4.0"),
    "unqualified_breaches": 2, "warning_percent": 80, "ladder_days": 180,
    "verified_rate_percent": Decimal("90"), "verified_min_visits": 10, "not_served_min_count": 1,
    "flagged_rate_percent": Decimal("10"), "flagged_min_count": 5,
}


def to_stored(values: dict) -> dict:
    """Officials' units (percent, scores) → stored integers (basis points, ×100)."""
    out = {}
    for f in FIELDS:
        value = values[f.name]
        if f.kind == "percent":
            value = int(Decimal(value) * 100)
        elif f.kind == "score":
            value = int(Decimal(value) * 100)
        out[f.stored] = value
    return out


def human(rule_set: RuleSet) -> dict:
    """Stored integers → officials' units."""
    out = {}
    for f in FIELDS:
        value = getattr(rule_set, f.stored)
        if f.kind in ("percent", "score"):
            value = (Decimal(value) / 100).normalize()
            value = value.quantize(Decimal(1)) if value == value.to_integral() else value
        out[f.name] = value
    return out


# --- Validation ------------------------------------------------------------------


def _int(f: Field, raw) -> int:
    if isinstance(raw, bool):
        raise Invalid(_l("Enter a whole number."), field=f.name)
    try:
        value = int(raw) if not isinstance(raw, str) else int(raw.strip())
    except (TypeError, ValueError):
        raise Invalid(_l("Enter a whole number."), field=f.name) from None
    if isinstance(raw, float) and raw != value:
        raise Invalid(_l("Enter a whole number."), field=f.name)
    if value < 0 and f.name in ("window_days", "long_window_days"):
        raise Invalid(_l("A window cannot be negative."), field=f.name)
    if value < 0:
        raise Invalid(_l("This cannot be negative."), field=f.name)
    if f.low is not None and value < f.low:
        raise Invalid(_l("Enter at least %(low)s.", low=f.low), field=f.name)
    if f.high is not None and value > f.high:
        raise Invalid(_l("Enter at most %(high)s.", high=f.high), field=f.name)
    return value


def _decimal(f: Field, raw) -> Decimal:
    try:
        value = Decimal(str(raw).strip().rstrip("%").strip())
    except (InvalidOperation, ValueError):
        raise Invalid(_l("Enter a number."), field=f.name) from None
    # abs() first: quantize() raises InvalidOperation on a number too long for the context.
    if not value.is_finite() or abs(value) >= Decimal("1e9"):
        raise Invalid(_l("Enter a number."), field=f.name)
    if value != value.quantize(Decimal("0.01")):
        raise Invalid(_l("Use at most two decimals."), field=f.name)
    if f.kind == "percent":
        if value < 0:
            raise Invalid(_l("A rate cannot be negative."), field=f.name)
        if value > 100:
            raise Invalid(_l("A rate cannot be above 100 %."), field=f.name)
    else:
        if not Decimal(1) <= value <= Decimal(5):
            raise Invalid(_l("A rating is between 1 and 5."), field=f.name)
    return value


def validate(values: dict) -> dict:
    """Check every field and the rules between them; the first problem is raised
    as :class:`Invalid` naming the field."""
    clean = {}
    for f in FIELDS:
        if values.get(f.name) is None or (isinstance(values[f.name], str) and not values[f.name].strip()):
            raise Invalid(_l("This is required."), field=f.name)
        raw = values[f.name]
        if f.kind == "int":
            clean[f.name] = _int(f, raw)
        elif f.kind == "zone":
            try:
                ZoneInfo(str(raw).strip())
            except (ZoneInfoNotFoundError, ValueError):
                raise Invalid(_l("Unknown time zone: use a name like Asia/Shanghai."), field=f.name) from None
            clean[f.name] = str(raw).strip()
        else:
            clean[f.name] = _decimal(f, raw)
    if clean["long_window_days"] < clean["window_days"]:
        raise Invalid(_l("The long window cannot be shorter than the normal window."), field="long_window_days")
    if clean["excellent_rating"] < clean["good_rating"]:
        raise Invalid(_l("The cut-off for excellent cannot be below the one for good."), field="excellent_rating")
    return clean


# --- Versions ----------------------------------------------------------------------
#
# Which version applies (due process: a version never applies to a period before its
# effective date).  Only PUBLISHED versions apply; drafts and withdrawn versions never do.
# - :func:`in_force` at a time: the latest (highest) published version whose
#   ``effective_from`` is at or before it.  Version 1, the Linli default, is the BASELINE: it applies before any
#   version took effect (there were no other rules before it).
# - :func:`for_period` for an evaluation as of a time: the latest published version that
#   was in force at the START of the period the evaluation judges (its own normal window,
#   ``as_of − window_days`` local days), so no booking in that window is judged by a rule
#   announced after it happened.  A provider judged over the long window (few bookings)
#   is judged by the same version: the long window only widens what is counted.


def _published():
    return sa.select(RuleSet).where(RuleSet.publication == Publication.PUBLISHED)


def baseline(session: Session) -> RuleSet:
    """The first published version (a database made without the seed gets version 1 now)."""
    rule_set = session.scalar(_published().order_by(RuleSet.version).limit(1))
    if rule_set is None:
        at = now()
        rule_set = RuleSet(version=1, note="Linli default (DOMAIN.md)", publication=Publication.PUBLISHED,
                           published_at=at, comment_until=at, effective_from=at, **to_stored(DEFAULTS))
        session.add(rule_set)
        session.flush()
    return rule_set


def in_force(session: Session, at: datetime) -> RuleSet:
    """The version in force at ``at``: the latest published one effective at or before it."""
    found = session.scalar(_published().where(RuleSet.effective_from <= at)
                           .order_by(RuleSet.version.desc()).limit(1))
    return found if found is not None else baseline(session)


def current(session: Session) -> RuleSet:
    """The version in force now (what officials change, and what the public page shows)."""
    return in_force(session, now())


def for_period(session: Session, as_of: datetime) -> RuleSet:
    """The version an evaluation as of ``as_of`` uses: in force at the start of its window."""
    for rule_set in session.scalars(_published().where(RuleSet.effective_from <= as_of)
                                    .order_by(RuleSet.version.desc())):
        window = sc.Window.local_days(as_of, rule_set.window_days, zone_of(rule_set))
        if rule_set.effective_from <= window.start:
            return rule_set
    return baseline(session)


def versions(session: Session) -> list[RuleSet]:
    return list(session.scalars(sa.select(RuleSet).order_by(RuleSet.version.desc())))


def get_version(session: Session, version: int) -> RuleSet | None:
    return session.scalar(sa.select(RuleSet).where(RuleSet.version == version))


def zone_of(rule_set: RuleSet) -> ZoneInfo:
    return ZoneInfo(rule_set.timezone)


# --- Thresholds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """What one threshold compares: a count (and a rate, or a mean).

    The count (``count_key``) must reach the floor (``count_field``).  A rate is
    ``numerator / denominator`` (by default the count over the bookings due) in
    basis points (``rate_field``), breached when above it, or when below it with
    ``rate_below`` (the verified-visit rate: the floor is then on the visits).
    """

    key: str
    label: object
    count_key: str
    count_field: str
    rate_field: str | None = None  # basis points
    below_field: str | None = None  # the rating cut-off ×100
    evidence: object = None  # the count metric whose ids are the evidence
    numerator_key: str | None = None  # the rate's numerator (default: the count)
    denominator_key: str = sc.DUE.key  # the rate's denominator
    rate_below: bool = False  # breached when the rate is below the limit

    @property
    def numerator(self) -> str:
        return self.numerator_key or self.count_key

    def value(self, figures: dict) -> float | None:
        if self.rate_field:
            part, whole = figures[self.numerator] or 0, figures[self.denominator_key] or 0
            return part / whole if whole else 0.0
        if self.below_field:
            return figures[sc.RATING_MEAN.key]
        return None

    def limits(self, rule_set: RuleSet) -> dict:
        out = {"min_count": getattr(rule_set, self.count_field)}
        if self.rate_field:
            out["rate_below_bp" if self.rate_below else "rate_bp"] = getattr(rule_set, self.rate_field)
        if self.below_field:
            out["below_x100"] = getattr(rule_set, self.below_field)
        return out

    def reached(self, rule_set: RuleSet, figures: dict, percent: int = 100) -> bool:
        """The threshold is breached (``percent`` 100) or reached to ``percent`` % (the warning).

        Integer arithmetic only (exact, and fast for 10,000 providers): a rate above
        ``bp / 10000`` is ``part × 10000 > bp × whole``; a Bayesian mean below ``cut / 100`` is
        ``(prior × weight + sum) × 100 < cut × (weight + count)``.  A rate that must not fall
        below ``bp`` is close when below ``bp + (10000 − bp) × (100 − percent) %`` (like the rating).
        """
        count = figures[self.count_key] or 0
        floor = getattr(rule_set, self.count_field)
        if count * 100 < floor * percent:  # count below ⌈floor × percent⌉
            return False
        if self.rate_field:
            part, whole = figures[self.numerator] or 0, figures[self.denominator_key] or 0
            bp = getattr(rule_set, self.rate_field)
            if self.rate_below:
                return part * 10_000 * 100 < (bp * 100 + (10_000 - bp) * (100 - percent)) * whole
            if percent == 100:
                return part * 10_000 > bp * whole
            return part * 10_000 * 100 >= bp * percent * whole
        if self.below_field:
            cut = getattr(rule_set, self.below_field)  # ×100
            if percent != 100:  # cut + (5 − cut) × (100 − percent) %, still ×100
                cut = cut * 100 + (500 - cut) * (100 - percent)
                scale = 100 * 100
            else:
                scale = 100
            prior = PRIOR_TOTAL_X100 * scale // 100  # prior mean × weight, at the same scale
            total = prior + (figures.get("rating_sum") or 0) * scale
            return total < cut * (RATING_PRIOR_WEIGHT + count)
        return True


# The prior's weight in score points ×100 (4.0 × 5 = 20 → 2000), exact.
PRIOR_TOTAL_X100 = int(Fraction(str(RATING_PRIOR_MEAN)) * RATING_PRIOR_WEIGHT * 100)


EXPIRED_DOCUMENTS = sc.EXPIRED_DOCUMENTS.key  # the scorecard's figure (documents, as of the day)

THRESHOLDS = {
    t.key: t
    for t in (
        Threshold("late", _l("Late bookings"), sc.LATE_BOOKINGS.key, "late_min_count", rate_field="late_rate_bp",
                  evidence=sc.LATE_BOOKINGS),
        Threshold("cancellations", _l("Provider cancellations and no-shows"), sc.CANCELLATIONS_AND_NO_SHOWS.key,
                  "cancellation_min_count", rate_field="cancellation_rate_bp", evidence=sc.CANCELLATIONS_AND_NO_SHOWS),
        Threshold("expired_requests", _l("Expired requests"), sc.EXPIRED_REQUESTS.key, "expired_min_count",
                  rate_field="expired_rate_bp", evidence=sc.EXPIRED_REQUESTS),
        Threshold("complaints", _l("Upheld complaints"), sc.UPHELD_COMPLAINTS.key, "complaint_min_count",
                  evidence=sc.UPHELD_COMPLAINTS),
        Threshold("rating", _l("Rating"), sc.RATING_COUNT.key, "rating_min_count", below_field="rating_below_x100",
                  evidence=sc.RATING_COUNT),
        Threshold("documents", _l("Expired qualification documents"), sc.EXPIRED_DOCUMENTS.key,
                  "expired_document_min_count", evidence=sc.EXPIRED_DOCUMENTS),
        # Proof of service: the evidence is the visits an official checks (the unverified ones).
        Threshold("unverified_visits", _l("Verified-visit rate"), sc.PROGRAMME_VISITS.key, "verified_min_visits",
                  rate_field="verified_rate_below_bp", rate_below=True, numerator_key=sc.VERIFIED_VISITS.key,
                  denominator_key=sc.PROGRAMME_VISITS.key, evidence=sc.UNVERIFIED_VISITS),
        Threshold("not_served", _l("Not-served findings"), sc.NOT_SERVED_VISITS.key, "not_served_min_count",
                  evidence=sc.NOT_SERVED_VISITS),
        Threshold("flagged_visits", _l("Flagged-visit rate"), sc.FLAGGED_VISITS.key, "flagged_min_count",
                  rate_field="flagged_rate_bp", denominator_key=sc.PROGRAMME_VISITS.key, evidence=sc.FLAGGED_VISITS),
    )
}


def breaches(rule_set: RuleSet, figures: dict) -> list[str]:
    return [key for key, t in THRESHOLDS.items() if t.reached(rule_set, figures)]


def near(rule_set: RuleSet, figures: dict) -> list[str]:
    return [key for key, t in THRESHOLDS.items() if t.reached(rule_set, figures, rule_set.warning_percent)]


def grade(rule_set: RuleSet, figures: dict, breached: list[str], close: list[str], *, is_new: bool) -> Grade:
    """The grade rule of the module docstring."""
    if is_new:
        return Grade.NEW
    if len(breached) >= rule_set.unqualified_breaches:
        return Grade.UNQUALIFIED
    if breached:
        return Grade.QUALIFIED
    rated = (figures[sc.RATING_COUNT.key] or 0) >= rule_set.rating_min_count
    mean = figures[sc.RATING_MEAN.key]
    if rated and mean is not None and mean * 100 < rule_set.good_rating_x100:
        return Grade.QUALIFIED
    if rated and mean is not None and mean * 100 >= rule_set.excellent_rating_x100 and not close:
        return Grade.EXCELLENT
    return Grade.GOOD
