"""Forms of the subsidy pages.  They check only the shape of the input; the rules
(types, dates, caps, who may decide) live in the services, which name the field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import SelectField, StringField, TextAreaField

from app.errors import Invalid
from app.money import MoneyError, yuan_to_fen
from billing.subsidies.models import PROJECT_TYPE_LABELS, ProjectType
from providers.forms import ACCEPTED_FILES, OptionalDateField, community_choices

IMAGE_FILES = ".jpg,.jpeg,.png,image/jpeg,image/png"


def yuan_field_to_fen(value: str | None, field: str, *, required: bool = True) -> int | None:
    """A typed yuan amount as fen, exactly; Invalid naming the field otherwise."""
    text = (value or "").strip()
    if not text:
        if required:
            raise Invalid(_l("Enter an amount in yuan."), field=field)
        return None
    try:
        return yuan_to_fen(text)
    except MoneyError:
        raise Invalid(_l("Enter the amount in yuan with at most two decimals, e.g. 300000 or 1280.50."),
                      field=field) from None


class ProjectForm(FlaskForm):
    community_id = SelectField(_l("Community"), coerce=int, validate_choice=False)
    project_type = SelectField(_l("Project type"), validate_choice=False,
                               choices=[(t.value, PROJECT_TYPE_LABELS[t]) for t in ProjectType])
    title = StringField(_l("Project title"))
    planned_quantity = StringField(_l("Planned quantity (in the type's unit)"))
    planned_investment = StringField(_l("Planned investment (yuan)"))

    def fill_choices(self) -> None:
        self.community_id.choices = [(0, _l("Choose…"))] + community_choices()


class ClaimForm(FlaskForm):
    accepted_on = OptionalDateField(_l("Acceptance date (on the certificate)"))
    verified_quantity = StringField(_l("Verified quantity"))
    verified_investment = StringField(_l("Verified investment (yuan)"))
    requested = StringField(_l("Amount requested (yuan, optional)"))
    acceptance_certificate = FileField(_l("Acceptance certificate (PDF, JPEG or PNG)"),
                                       render_kw={"accept": ACCEPTED_FILES})
    invoices = MultipleFileField(_l("Invoices (PDF, JPEG or PNG)"), render_kw={"accept": ACCEPTED_FILES})
    photos = MultipleFileField(_l("Photos (JPEG or PNG)"), render_kw={"accept": IMAGE_FILES})


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"))


class ApproveForm(FlaskForm):
    amount = StringField(_l("Amount to approve (yuan); empty for the full amount"))
    reason = TextAreaField(_l("Reason for a partial approval (the provider sees it)"))


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the rejection (the provider sees it)"))


class ObjectionForm(FlaskForm):
    text = TextAreaField(_l("Your objection"))


class ResolveForm(FlaskForm):
    outcome = SelectField(_l("Decision"), validate_choice=False,
                          choices=[("dismissed", _l("Dismiss: the notice resumes")),
                                   ("upheld", _l("Uphold: the claim is rejected")),
                                   ("abusive", _l("Abusive: dismiss it, the notice resumes and the objector "
                                                  "is told why"))])
    note = TextAreaField(_l("Explanation (the reason, for an abusive objection)"))


class EarlyStopForm(FlaskForm):
    stopped_on = OptionalDateField(_l("Operation stopped on"))
    reason = TextAreaField(_l("What happened"))


class PolicyForm(FlaskForm):
    rate = StringField(_l("Rate per unit (yuan)"))
    share_percent = StringField(_l("Share of verified investment (%)"))
    category_cap = StringField(_l("Category cap (yuan)"))
    obligation_years = StringField(_l("Operating obligation (years)"))
    note = StringField(_l("Why the change"))


class TierCapForm(FlaskForm):
    cap = StringField(_l("Yearly cap per community (yuan)"))
    note = StringField(_l("Why the change"))
