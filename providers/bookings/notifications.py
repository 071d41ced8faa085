"""The notifications of bookings (kind → text; registered by providers.bookings.init_app)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

NOTIFICATIONS = {
    "booking.requested": _l("New booking request #%(booking)s: %(title)s on %(when)s."),
    "booking.accepted": _l("Your booking #%(booking)s (%(title)s) was accepted."),
    "booking.declined": _l("Your booking #%(booking)s (%(title)s) was declined: %(reason)s"),
    "booking.expired": _l("Booking #%(booking)s (%(title)s) expired: the provider did not answer in time."),
    "booking.in_service": _l("The provider has arrived for booking #%(booking)s (%(title)s)."),
    "booking.completed": _l("Booking #%(booking)s (%(title)s) is done. Please confirm and rate it."),
    "booking.confirmed": _l("The resident confirmed booking #%(booking)s (%(title)s)."),
    "booking.cancelled_by_resident": _l("The resident cancelled booking #%(booking)s (%(title)s)."),
    "booking.cancelled_by_provider": _l("The provider cancelled your booking #%(booking)s (%(title)s): %(reason)s"),
    "booking.no_show_reported": _l("The resident reports that nobody came for booking #%(booking)s (%(title)s)."),
    "booking.no_show_provider": _l("Booking #%(booking)s (%(title)s) is recorded as a provider no-show."),
    "booking.no_show_resident": _l("Booking #%(booking)s (%(title)s) is recorded as: resident not there."),
}
