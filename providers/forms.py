"""Forms of the provider pages: registration, details, documents, vetting decisions.

The forms check only the shape of the input (present, parseable); the rules
(credit code, phone, lists to choose from, dates, transitions) live in the
services, which name the field at fault.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired

from app.extensions import db
from app.models import Community
from providers.models import DOCUMENT_KIND_LABELS, DocumentKind, ServiceCategory
from providers.registration import ProviderDetails
from providers.vetting import DECISIONS

ACCEPTED_FILES = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class IdChecklistField(SelectMultipleField):
    """Checkboxes of ids; which ids exist is the service's question, not the form's."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=int, validate_choice=False, **kwargs)

    def process_formdata(self, valuelist):
        try:
            self.data = [int(value) for value in valuelist]
        except ValueError as exc:
            raise ValueError(_l("Choose only from the list.")) from exc


class OptionalDateField(DateField):
    """A date (YYYY-MM-DD) that may be left empty; our own message when it is not a date."""

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter the date as year-month-day, e.g. 2027-06-30.")) from exc


def _required(message):
    return [DataRequired(message)]


class ProviderDetailsForm(FlaskForm):
    """What an organisation states about itself (registration and editing)."""

    name = StringField(_l("Organisation name"), validators=_required(_l("Enter the organisation's name.")))
    credit_code = StringField(
        _l("Unified social credit code"),
        validators=_required(_l("Enter the 18-character unified social credit code.")),
    )
    legal_representative = StringField(
        _l("Legal representative"), validators=_required(_l("Enter the legal representative."))
    )
    contact_name = StringField(_l("Contact person"), validators=_required(_l("Enter a contact person.")))
    contact_phone = StringField(_l("Contact phone"), validators=_required(_l("Enter a contact phone number.")))
    address = StringField(_l("Address"))
    description = TextAreaField(_l("Description"))
    category_ids = IdChecklistField(_l("Service categories"))
    community_ids = IdChecklistField(_l("Communities served"))

    def fill_choices(self) -> None:
        self.category_ids.choices = category_choices()
        self.community_ids.choices = community_choices()

    def details(self) -> ProviderDetails:
        return ProviderDetails(
            name=self.name.data or "",
            credit_code=self.credit_code.data or "",
            legal_representative=self.legal_representative.data or "",
            contact_name=self.contact_name.data or "",
            contact_phone=self.contact_phone.data or "",
            address=self.address.data or "",
            description=self.description.data or "",
            category_ids=list(self.category_ids.data or []),
            community_ids=list(self.community_ids.data or []),
        )


class RegistrationForm(ProviderDetailsForm):
    """The organisation plus its first staff account (who logs in with the phone)."""

    staff_name = StringField(_l("Your name"), validators=_required(_l("Enter your name.")))
    staff_phone = StringField(
        _l("Your mobile phone"), validators=_required(_l("Enter your phone number."))
    )
    password = PasswordField(_l("Password"), validators=_required(_l("Choose a password.")))


class DocumentForm(FlaskForm):
    """Upload one qualification document."""

    kind = SelectField(
        _l("Kind of document"),
        choices=[(kind.value, DOCUMENT_KIND_LABELS[kind]) for kind in DocumentKind],
        validate_choice=False,  # the service names an unknown kind
    )
    expires_on = OptionalDateField(_l("Valid until"))
    file = FileField(_l("File (PDF, JPEG or PNG)"), render_kw={"accept": ACCEPTED_FILES})


class DecisionForm(FlaskForm):
    """An official's decision on a provider: the action and the reason the provider sees."""

    action = SelectField(
        _l("Decision"), choices=[(action, action) for action in DECISIONS], validate_choice=False
    )
    reason = TextAreaField(_l("Reason (the provider sees it)"))


def category_choices() -> list[tuple[int, str]]:
    categories = db.session.scalars(
        sa.select(ServiceCategory).order_by(ServiceCategory.sort_order, ServiceCategory.id)
    )
    return [(category.id, category.name) for category in categories]


def community_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(sa.select(Community.id, Community.name).order_by(Community.name))
    return [(row.id, row.name) for row in rows]
