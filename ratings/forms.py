"""Forms of the rating and complaint pages.

They carry the input and the CSRF token only; the rules (scores 1–5, lengths,
required reasons, which kind, photo types) are the services', which name the
field at fault.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField

from ratings.models import COMPLAINT_KIND_LABELS, RATING_TAG_LABELS, ComplaintKind
from ratings.photos import ACCEPTED_PHOTOS
from ratings.services import MAX_COMMENT, SCORE_LABELS

STARS = [(str(n), str(n)) for n in range(1, 6)]


def _stars(name: str) -> RadioField:
    # validate_choice=False: the service answers "1 to 5 stars" in its own words.
    return RadioField(SCORE_LABELS[name], choices=STARS, validate_choice=False)


class RatingForm(FlaskForm):
    """The overall score is required, the rest optional (the service says so, all at once)."""

    overall = _stars("overall")
    timeliness = _stars("timeliness")
    quality = _stars("quality")
    attitude = _stars("attitude")
    # Ticked boxes (name="tags", one value each); unknown codes get the service's message.
    tags = SelectMultipleField(_l("Quick tags (optional)"),
                               choices=[(code.value, label) for code, label in RATING_TAG_LABELS.items()],
                               validate_choice=False)
    comment = TextAreaField(
        _l("Comment (optional)"), render_kw={"maxlength": MAX_COMMENT, "rows": 4}
    )


class ReplyForm(FlaskForm):
    reply = TextAreaField(_l("Your reply (shown publicly, once)"), render_kw={"rows": 3})


class ReasonForm(FlaskForm):
    """An official hides or shows a rating again: the reason goes to the audit trail."""

    reason = TextAreaField(_l("Reason"), render_kw={"rows": 2})


class ComplaintForm(FlaskForm):
    kind = SelectField(
        _l("What is the complaint about?"),
        choices=[("", _l("Choose…"))] + [(kind.value, COMPLAINT_KIND_LABELS[kind]) for kind in ComplaintKind],
        validate_choice=False,
    )
    description = TextAreaField(_l("What happened?"), render_kw={"rows": 6})
    photos = MultipleFileField(
        _l("Photos (optional, up to 3, JPEG or PNG)"), render_kw={"accept": ACCEPTED_PHOTOS}
    )


class ResponseForm(FlaskForm):
    response = TextAreaField(_l("Your response"), render_kw={"rows": 4})


class DecisionForm(FlaskForm):
    """Uphold or dismiss: the outcome is the value of the button pressed
    (``name="outcome"``). It is not a hidden field: ``hidden_tag()`` would render
    an empty ``outcome`` before the buttons, and the first value sent wins."""

    outcome = StringField()
    reason = TextAreaField(_l("Reason (both sides read it)"), render_kw={"rows": 3})
