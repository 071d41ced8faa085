"""Forms of the roster pages.  Each field checks its own input, so a form with several
mistakes shows them all at once, each next to its field; the services check again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import ValidationError

from app.errors import Invalid
from providers.carers import identity, services
from providers.carers.kinds import QUALIFICATION_LABELS, QualificationKind
from providers.forms import OptionalDateField
from providers.listing_forms import int_or_none


def _checked_by(clean):
    """A field validator from a service's cleaner (the same message the service gives)."""

    def check(form, field):
        try:
            clean(field.data)
        except Invalid as error:
            raise ValidationError(str(error)) from None

    return check


class CarerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[_checked_by(services.clean_name)])
    phone = StringField(_l("Mobile number"), validators=[_checked_by(services.clean_phone)])
    id_number = StringField(_l("ID card number"), validators=[_checked_by(identity.clean)])


class CarerEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[_checked_by(services.clean_name)])
    phone = StringField(_l("Mobile number"), validators=[_checked_by(services.clean_phone)])


def _required_date(form, field):
    if field.data is None and not field.errors:
        raise ValidationError(str(_l("Enter the expiry date printed on the certificate.")))


class QualificationForm(FlaskForm):
    kind = SelectField(_l("Qualification"), choices=[(k.value, QUALIFICATION_LABELS[k]) for k in QualificationKind],
                       validate_choice=False)  # the service names an unknown kind
    number = StringField(_l("Certificate number"), validators=[_checked_by(services.clean_certificate_number)])
    expires_on = OptionalDateField(_l("Valid until"), validators=[_required_date])


class CarerChoiceForm(FlaskForm):
    """The carer chosen when a booking is accepted or its carer changed (choices: the
    provider's active carers; the service checks the choice)."""

    carer_id = SelectField(_l("Carer"), coerce=int_or_none, validate_choice=False)
