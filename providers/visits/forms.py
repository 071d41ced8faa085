"""The carer's check-in and check-out forms (one per booking on a page: prefixed by its id)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectMultipleField, StringField, TextAreaField, widgets


class LocationFields(FlaskForm):
    """Filled by app/static/js/visit_location.js from the phone's Geolocation API; empty
    without JavaScript or permission (allowed, and flagged by the rules)."""

    lat = HiddenField()
    lon = HiddenField()
    accuracy = HiddenField()
    # Where the page was posted from, to show an error on the same page.
    back = HiddenField(default="today")
    # The service reports a bad location on "location": shown beside the button.
    location = HiddenField()


class CheckInForm(LocationFields):
    before_photo = FileField(_l("Photo on arrival (optional)"))


class CheckOutForm(LocationFields):
    tasks = SelectMultipleField(_l("Tasks done"), validate_choice=False,
                                option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False))
    code = StringField(_l("Visit code from the resident"),
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6,
                                  "pattern": "[0-9]*"})
    short_reason = TextAreaField(_l("Why the visit ends early"), render_kw={"maxlength": 500})
    before_photo = FileField(_l("Photo before (optional)"))
    after_photo = FileField(_l("Photo after (optional)"))


def prefix(booking_id: int) -> str:
    return f"visit{booking_id}"


def check_in_form(booking, *, submitted: bool = False) -> CheckInForm:
    """An empty form for the page, or (``submitted``) the one the request posted."""
    if submitted:
        return CheckInForm(prefix=prefix(booking.id))
    return CheckInForm(formdata=None, prefix=prefix(booking.id))


def check_out_form(booking, *, submitted: bool = False) -> CheckOutForm:
    form = CheckOutForm(prefix=prefix(booking.id)) if submitted else CheckOutForm(formdata=None,
                                                                                    prefix=prefix(booking.id))
    form.tasks.choices = [(task, task) for task in (booking.listing.checklist or [])]
    return form
