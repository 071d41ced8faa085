"""Ratings, complaints, scorecards and (sub-package :mod:`ratings.supervision`) the
evaluator, penalty reports, sanctions and appeals.

:func:`init_app` registers everything this domain has with the shell's registries
(app/registry.py).  This package may import providers, never billing; it fills the
slots that providers' pages offer.
"""

from __future__ import annotations


def init_app(app) -> None:
    from flask import render_template

    from app.registry import registry
    from ratings import api, complaint_views, followups, models, supervision, views  # noqa: F401  (complaint_views: routes on views.bp)
    from ratings.demo import load_history
    from ratings.notifications import NOTIFICATIONS
    from ratings.scorecard_api import scorecard_blp
    from ratings.scorecard_views import bp as scorecard_bp

    found = registry(app)
    found.models("ratings.models")
    found.notifications(NOTIFICATIONS, labels=models.NOTIFICATION_LABELS)
    found.pages(views.bp, scorecard_bp)
    found.api(*api.blueprints(), scorecard_blp)
    # The public listing and provider pages show the published ratings.
    found.slot("providers.listing.after", lambda listing: render_template("ratings/_published.html", listing=listing))
    found.slot("providers.profile.after", lambda provider: render_template("ratings/_published.html", provider=provider))
    # The resident's booking page offers "Rate this service" exactly when the rate page would
    # accept a rating (unrated, completed, within the rating window).
    found.fact("ratings.may_rate", views.booking_may_be_rated)
    found.demo("ratings", load_history)
    supervision.init_app(app)
    followups.init_app(app)
