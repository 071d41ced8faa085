"""Providers: organisations, staff, qualification documents, listings, the catalogue
and (sub-package :mod:`providers.bookings`) bookings.

:func:`init_app` registers everything this domain has with the shell's registries
(app/registry.py).  This package imports neither ratings nor billing: they fill the
slots its pages offer (``linli_slot``) and subscribe to its signals.
"""

from __future__ import annotations


def init_app(app) -> None:
    from app.registry import registry
    from providers import api, bookings, carers, sanctions, visits
    from providers import registration as registration_service
    from providers.demo import load_demo
    from providers.views import bp, catalogue, dashboard, listings, registration, vetting  # noqa: F401  (routes on bp)

    found = registry(app)
    # catalogue_cache: mapper events that move the catalogue generation on changes.
    found.models("providers.models", "providers.catalogue_cache", "providers.listing_photos")
    found.notifications(sanctions.NOTIFICATIONS, registration_service.NOTIFICATIONS)
    found.pages(bp)
    found.api(*api.blueprints())
    found.demo("providers", load_demo)
    carers.init_app(app)
    bookings.init_app(app)
    visits.init_app(app)
