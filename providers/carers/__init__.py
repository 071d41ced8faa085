"""Carers: the provider's roster of the people who deliver visits (服务人员), their
qualifications, and which carer serves each booking (:mod:`providers.carers.assignment`).

:func:`init_app` registers the tables and the pages.  The roster modules
(models, identity, services, expiry) import no bookings, so the provider's own
pages (dashboard) may read them; only :mod:`~providers.carers.assignment` reads
bookings.
"""

from __future__ import annotations


def init_app(app) -> None:
    from app.registry import registry
    from providers.carers import api, views
    from providers.carers.demo import load_demo

    found = registry(app)
    found.models("providers.carers.models")
    found.pages(views.bp)
    found.api(api.carers_blp)
    found.demo("carers", load_demo)
