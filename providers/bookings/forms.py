"""Forms of the booking pages: the booking request and the reason given with an action."""

from __future__ import annotations

from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.errors import Invalid

SLOT_FORMAT = "%Y-%m-%dT%H:%MZ"

CHOOSE_A_TIME = _l("Choose a time from the list.")


def slot_value(starts_at: datetime) -> str:
    """A slot start (UTC) as the form sends it: ``2026-11-03T01:00Z``."""
    return starts_at.astimezone(timezone.utc).strftime(SLOT_FORMAT)


def parse_slot(value: str | None) -> datetime:
    """The UTC start a form value names; Invalid (on ``starts_at``) if it names none."""
    try:
        return datetime.strptime((value or "").strip(), SLOT_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise Invalid(CHOOSE_A_TIME, field="starts_at") from None


class BookingForm(FlaskForm):
    # The choices are the fresh available slots; the view checks the value
    # itself so that a slot taken meanwhile is a 409, not a form error.
    starts_at = RadioField(_l("Time"), validate_choice=False, validators=[DataRequired(CHOOSE_A_TIME)])
    address = StringField(
        _l("Address"),
        validators=[
            DataRequired(_l("Enter the address where the service is needed.")),
            Length(max=200, message=_l("The address is too long (200 characters at most).")),
        ],
    )
    note = TextAreaField(
        _l("Note for the provider (optional)"),
        validators=[Optional(), Length(max=1000, message=_l("The note is too long (1000 characters at most)."))],
    )


class ReasonForm(FlaskForm):
    """An action button with an optional or required reason (the service decides)."""

    reason = TextAreaField(
        _l("Reason"),
        validators=[Optional(), Length(max=1000, message=_l("The reason is too long (1000 characters at most)."))],
    )


class ContactRevealForm(FlaskForm):
    reason = StringField(
        _l("Why do you need the contact details?"),
        validators=[
            DataRequired(_l("Say why you need the contact details: the reason is recorded.")),
            Length(max=1000, message=_l("The reason is too long (1000 characters at most).")),
        ],
    )
