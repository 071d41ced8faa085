"""Supervision: the rule set, exclusions, the evaluator, its stored runs and penalty reports.

- :mod:`.models` — the tables (rule-set versions, exclusions, runs, snapshots,
  penalty reports, early warnings) and the penalty report's state machine;
- :mod:`.rules` — the rule set: defaults, validation, new versions, the grade rule;
- :mod:`.evaluator` — a pure function (session, rule set, as-of) → per-provider
  figures, grade and breaches, from :mod:`ratings.scorecard`'s definitions;
- :mod:`.runs` — storing a run once per as-of (idempotent, safe with two schedulers);
- :mod:`.reports` — penalty reports: the ladder, evidence, notifications;
- :mod:`.publication`, :mod:`.reasons`, :mod:`.grade_reviews` — due process: drafts
  and comment periods, statements of reasons, human review of a grade;
- :mod:`.exclusions`, :mod:`.jobs`, :mod:`.views`, :mod:`.api`, :mod:`.forms`.

:func:`init_app` registers them with the shell (called by ``ratings.init_app``).
"""

from __future__ import annotations


def init_app(app) -> None:
    from app.registry import registry
    from ratings.supervision import appeals, grade_reviews, jobs, reports, review, sanctions
    from ratings.supervision.api import supervision_blp
    from ratings.supervision.appeal_views import bp as appeal_bp
    from ratings.supervision.csv_views import bp as csv_bp
    from ratings.supervision.dueprocess_views import bp as dueprocess_bp
    from ratings.supervision.evaluate_views import bp as evaluation_bp
    from ratings.supervision.notifications import NOTIFICATIONS
    from ratings.supervision.publication_views import bp as publication_bp
    from ratings.supervision.review_views import bp as review_bp
    from ratings.supervision.sanction_api import sanctions_blp
    from ratings.supervision.views import bp as supervision_bp

    found = registry(app)
    found.models("ratings.supervision.models", "ratings.supervision.sanction_models",
                 "ratings.supervision.dueprocess_models")
    found.notifications(NOTIFICATIONS, review.NOTIFICATIONS, appeals.NOTIFICATIONS, sanctions.NOTIFICATIONS,
                        grade_reviews.NOTIFICATIONS,
                        labels={**reports.NOTIFICATION_LABELS, **appeals.NOTIFICATION_LABELS,
                         **grade_reviews.NOTIFICATION_LABELS})
    found.pages(supervision_bp, review_bp, appeal_bp, publication_bp, dueprocess_bp, evaluation_bp, csv_bp)
    found.api(supervision_blp, sanctions_blp)
    found.jobs_from(jobs.JOBS)
    found.jobs_from(sanctions.JOBS)
    from ratings.supervision.appeal_reminders import send_appeal_deadline_reminders

    found.job(send_appeal_deadline_reminders, trigger="interval", minutes=15)  # the outbox sends them
    found.command(jobs.evaluate_command)
