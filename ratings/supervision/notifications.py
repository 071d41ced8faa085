"""The notifications of evaluations, early warnings and exclusions (kind → text;
registered by ratings.supervision.init_app)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

NOTIFICATIONS = {
    "supervision.report": _l("Evaluation of %(as_of)s: %(threshold)s over the threshold. Proposed sanction: %(sanction)s. An official will review it; you will be able to appeal."),
    "supervision.reports_ready": _l("Evaluation of %(as_of)s: %(reports)s penalty report(s) for %(providers)s provider(s) to review."),
    "supervision.warning": _l("Early warning: %(count)s of your figures are close to a supervision threshold. See your scorecard before the next evaluation."),
    "supervision.exclusion": _l("An official excluded booking #%(booking)s from your figures: %(reason)s"),
}
