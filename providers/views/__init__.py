"""Provider pages: registration, the provider's own dashboard and listings,
officials' vetting queue, and the public catalogue and profiles."""

from flask import Blueprint, Flask

bp = Blueprint("providers", __name__, template_folder="../templates")


def register_views(app: Flask) -> None:
    from providers.bookings.views import register as register_booking_views
    from providers.views import catalogue, dashboard, listings, registration, vetting  # noqa: F401

    app.register_blueprint(bp)
    register_booking_views(app)
