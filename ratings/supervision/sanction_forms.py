"""Forms of the review, appeal and sanction pages: input and CSRF only; the rules are the services'."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import RadioField, SelectField, TextAreaField

from ratings.supervision.models import SANCTION_LABELS
from ratings.supervision.sanction_models import APPEAL_OUTCOME_LABELS


class ConfirmForm(FlaskForm):
    sanction = SelectField(_l("Sanction"), choices=[(s.value, label) for s, label in SANCTION_LABELS.items()],
                           validate_choice=False)
    reason = TextAreaField(_l("Reason (required when you change the proposed sanction; the provider sees it)"),
                           render_kw={"rows": 3})


class DismissForm(FlaskForm):
    reason = TextAreaField(_l("Why the report is dismissed (the provider sees it)"), render_kw={"rows": 3})


class AppealForm(FlaskForm):
    root_cause = TextAreaField(_l("Root cause: why did it happen?"), render_kw={"rows": 4})
    corrective_actions = TextAreaField(_l("Corrective actions: what have you done about it?"), render_kw={"rows": 4})
    preventive_steps = TextAreaField(_l("Preventive steps: how will you stop it happening again?"),
                                     render_kw={"rows": 4})
    files = MultipleFileField(_l("Evidence files (PDF, JPEG or PNG; up to 5)"),
                              render_kw={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"})


class AppealDecisionForm(FlaskForm):
    outcome = RadioField(_l("Decision"), choices=[(o.value, label) for o, label in APPEAL_OUTCOME_LABELS.items()],
                         validate_choice=False)
    reason = TextAreaField(_l("Reason (the provider sees it)"), render_kw={"rows": 3})
