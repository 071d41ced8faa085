"""Proof of service: the record of each visit (where and when the carer checked in and
out, photos, tasks), the resident's home location, one-time visit codes and code
cards, verification, and the anomaly flags raised on visits.

A visit's times stay on the booking (``checked_in_at``, ``completed_at``); this
package stores what proves them (:mod:`providers.visits.models`).
"""

from __future__ import annotations

# Defaults of the settings this package reads (``app.config``), each overridable by the
# environment variable of the same name prefixed LINLI_ (e.g. LINLI_VISIT_RADIUS_M).
DEFAULTS = {
    # A check-in or check-out farther than this from the resident's home location is flagged.
    "VISIT_RADIUS_M": 300,
    # A check-out before this share of the listing's duration needs a reason and is flagged.
    "VISIT_MIN_SHARE_PERCENT": 50,
    # A check-out recorded this long after the slot's end is flagged as back-filled.
    "VISIT_BACKFILL_HOURS": 2,
    # Wrong visit codes before the code locks (and the visit is flagged).
    "VISIT_CODE_ATTEMPTS": 5,
    # Raw coordinates of check-ins and check-outs are dropped after this many days
    # (the distance and the verdict stay).
    "VISIT_LOCATION_RETENTION_DAYS": 180,
    # The largest visit photo accepted (bytes).
    "VISIT_PHOTO_MAX_BYTES": 8 * 1024 * 1024,
}


def init_app(app) -> None:
    import os

    from app.registry import registry

    for name, default in DEFAULTS.items():
        app.config.setdefault(name, int(os.environ.get(f"LINLI_{name}", default)))
    from providers.visits import evidence_views, home_views, jobs, office_views  # noqa: F401  (evidence_views: routes on office_views.bp)

    found = registry(app)
    found.models("providers.visits.models")
    found.pages(office_views.bp, home_views.bp)
    found.jobs_from(jobs.JOBS)
    found.command(jobs.drop_coordinates_command)

    from providers.visits import flag_views, flags, views
    from providers.visits.verification import visit_closed

    views.init_app(app, found)
    found.receiver(visit_closed, flags.on_visit_closed)
    found.job(flags.recheck_recent, trigger="cron", minute=40)
    found.pages(flag_views.bp)
