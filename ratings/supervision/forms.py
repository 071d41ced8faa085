"""Forms of the supervision pages: input and CSRF only; the rules are the services'."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, TextAreaField

from ratings.supervision.models import EXCLUSION_CAUSE_LABELS
from ratings.supervision.rules import FIELDS


class RuleSetForm(FlaskForm):
    """One text field per rule-set field (validated by :func:`rules.validate`), and the note."""

    note = TextAreaField(_l("What changed, and why (goes into the audit trail)"), render_kw={"rows": 3})

    def values(self) -> dict:
        return {f.name: self[f.name].data for f in FIELDS}

    def rule_fields(self):
        return [self[f.name] for f in FIELDS]


for _field in FIELDS:
    setattr(RuleSetForm, _field.name, StringField(_field.label))


class ExclusionForm(FlaskForm):
    booking_id = StringField(_l("Booking number"), render_kw={"inputmode": "numeric"})
    cause = RadioField(_l("Outside the provider's control because of"),
                       choices=[(c.value, label) for c, label in EXCLUSION_CAUSE_LABELS.items()],
                       validate_choice=False)
    reason = TextAreaField(_l("Reason (the provider sees it)"), render_kw={"rows": 3})


class EvaluateForm(FlaskForm):
    """The day to evaluate as of (the preview is a GET: it writes nothing)."""

    class Meta:
        csrf = False

    as_of = StringField(_l("Evaluate as of (the windows end at this day's midnight)"))


class StoreRunForm(FlaskForm):
    """Store the previewed run: its day and the fingerprint of what the preview showed."""

    as_of = HiddenField()
    fingerprint = HiddenField()
