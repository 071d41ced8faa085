"""The notifications of ratings and complaints (kind → text; registered by ratings.init_app)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

NOTIFICATIONS = {
    "rating.received": _l("You received a %(stars)s-star rating for booking #%(booking)s."),
    "rating.replied": _l("The provider replied to your rating of booking #%(booking)s."),
    "rating.hidden": _l("An official hid a rating of booking #%(booking)s: %(reason)s"),
    "complaint.filed": _l("A complaint (%(complaint_kind)s) was filed about booking #%(booking)s. Please respond within 48 hours."),
    "complaint.responded": _l("The provider responded to your complaint about booking #%(booking)s."),
    "complaint.decided": _l("The complaint about booking #%(booking)s was decided: %(outcome)s."),
}
