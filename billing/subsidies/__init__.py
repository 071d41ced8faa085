"""Build-then-subsidise (先建后补): versioned policies, projects registered before
building, claims with evidence, two-step review, public notice with objections,
disbursement through the ledger, and the operating obligation with its clawback.

Services by concept: policies.py (versions and the computation), projects.py,
claims.py (filing and evidence), review.py (verification, approval, notice,
objections, disbursement), obligations.py (early stop and clawback).
"""

from __future__ import annotations


def init_app(app) -> None:
    """Register the subsidy pages, API, jobs and notifications."""
    from app.registry import registry
    from billing.subsidies import api, jobs, models, official_views, views  # noqa: F401  (official_views: routes on views.bp)
    from billing.subsidies.demo import load_subsidy_demo

    found = registry(app)
    found.models("billing.subsidies.models")
    found.notifications(models.NOTIFICATIONS, labels=models.NOTIFICATION_LABELS)
    found.pages(views.bp)
    found.api(*api.blueprints())
    found.jobs_from(jobs.JOBS)
    found.demo("subsidies", load_subsidy_demo)
