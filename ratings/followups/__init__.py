"""Follow-up calls (回访): each month a sample of every provider's programme visits, and
every flagged visit, goes into a queue; an official or a programme's appointed
third-party evaluator calls the resident and records what they say.
"""

from __future__ import annotations

DEFAULTS = {
    # Share of each provider's programme visits of the month sampled for a call.
    "FOLLOW_UP_SHARE_PERCENT": 10,
    # ... and at least this many per provider and month (or all, when it has fewer).
    "FOLLOW_UP_MIN_PER_PROVIDER": 2,
    # Unreachable calls are tried again up to this many times in all.
    "FOLLOW_UP_MAX_ATTEMPTS": 3,
}


def init_app(app) -> None:
    import os

    from app.registry import registry

    for name, default in DEFAULTS.items():
        app.config.setdefault(name, int(os.environ.get(f"LINLI_{name}", default)))
    found = registry(app)
    found.models("ratings.followups.models")

    from ratings.followups import jobs, views

    found.jobs_from(jobs.JOBS)
    found.command(jobs.follow_ups_cli)
    found.pages(views.bp)
