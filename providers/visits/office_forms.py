"""Forms of the visit pages for residents and officials: the home location, code cards,
and the official's reasons (showing a visit's locations, clearing it for payment)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from providers.visits.models import LocationMethod

TOO_LONG = _l("The reason is too long (500 characters at most).")


class HomeForm(FlaskForm):
    """The home's position: typed in, or filled by "use this phone's location"
    (app/static/js/home_location.js sets ``method`` to device and the accuracy).
    The view parses the position (``geo.parse_position``) and the service decides."""

    lat = StringField(_l("Latitude (decimal degrees, e.g. 31.2304)"))
    lon = StringField(_l("Longitude (decimal degrees, e.g. 121.4737)"))
    accuracy = HiddenField()
    method = HiddenField(default=LocationMethod.ENTERED.value)
    consent = BooleanField(_l("The resident agrees that Linli stores this home location, to check that carers "
                              "really come to the door. Only officials and the booking's provider see it."))
    reason = TextAreaField(_l("Reason for the correction"), validators=[Optional(), Length(max=500, message=TOO_LONG)])

    def location_method(self) -> LocationMethod:
        return LocationMethod.DEVICE if self.method.data == LocationMethod.DEVICE.value else LocationMethod.ENTERED


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Give a reason: it is recorded.")), Length(max=1000, message=_l(
            "The reason is too long (1000 characters at most)."))],
    )


class EmptyForm(FlaskForm):
    """A button that only needs its CSRF token."""
