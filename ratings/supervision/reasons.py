"""The statement of reasons of a penalty report (DSA Art. 17, P2B Art. 4, Platform Work Directive).

Every sanction notice can be downloaded by its provider (and by officials) as one plain-text
Markdown document, in the reader's language (Chinese by default): the rule-set version the
evaluation used and when it took effect, the figure and the threshold it crossed, the bookings,
complaints, ratings and documents behind it (the report's stored evidence, so it says exactly
what the evaluator saw), the decision, who made it — the evaluator automatically, then the
official(s) by name — the dates, and how to appeal.  Nothing here is written: the statement is
the stored facts, read again, so two downloads of the same report say the same thing unless a
decision was taken in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ratings.supervision.appeals import appeal_of
from ratings.supervision.models import PenaltyReport, ReportStatus, RuleSet
from ratings.supervision.review import review_of
from ratings.supervision.sanction_models import PenaltyAppeal, PenaltyReview

# The kinds of evidence the statement lists in detail; any other kind stored on a report
# (a later figure's, e.g. visits) is listed by its ids, so the statement never hides one.
DETAILED = ("booking", "complaint", "rating", "document")


@dataclass(frozen=True)
class Statement:
    report: PenaltyReport
    rule_set: RuleSet
    review: PenaltyReview | None
    appeal: PenaltyAppeal | None

    @property
    def decided_by_official(self) -> bool:
        return self.review is not None and self.report.status != ReportStatus.PROPOSED

    @property
    def other_evidence(self) -> dict[str, list]:
        return {kind: ids for kind, ids in (self.report.evidence or {}).items() if kind not in DETAILED and ids}

    @property
    def filename(self) -> str:
        return f"statement-of-reasons-{self.report.id}.md"


def statement(session: Session, report: PenaltyReport) -> Statement:
    """The facts of the statement of ``report`` (the caller checked who may read it)."""
    return Statement(report=report, rule_set=report.run.rule_set, review=review_of(session, report.id),
                     appeal=appeal_of(session, report.id))
