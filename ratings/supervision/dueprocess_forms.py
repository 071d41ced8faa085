"""Forms of the due-process pages (rule publication, comments, grade reviews): input and CSRF
only; the rules are the services'."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField

from ratings.supervision.dueprocess_models import REVIEW_OUTCOME_LABELS
from ratings.supervision.grade_reviews import GRADE_CHOICES


class PublishForm(FlaskForm):
    days = StringField(_l("Comment period (days)"), render_kw={"inputmode": "numeric"})
    effective_on = StringField(_l("Takes effect on (leave empty: when the comment period ends)"),
                               render_kw={"placeholder": "2027-01-01"})


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why it is withdrawn (goes into the audit trail)"), render_kw={"rows": 2})


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Your comment"), render_kw={"rows": 4})


class GradeReviewForm(FlaskForm):
    reason = TextAreaField(_l("Why should an official look at this grade again?"), render_kw={"rows": 3})


class GradeDecisionForm(FlaskForm):
    outcome = RadioField(_l("Decision"), choices=[(o.value, label) for o, label in REVIEW_OUTCOME_LABELS.items()],
                         validate_choice=False)
    new_grade = SelectField(_l("New grade (when changed)"), choices=[("", "—"), *GRADE_CHOICES],
                            validate_choice=False)
    reason = TextAreaField(_l("Reason (the provider sees it)"), render_kw={"rows": 3})
