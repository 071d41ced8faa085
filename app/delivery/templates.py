"""Message templates: each renders in the recipient's language (zh by default, or en).

A template is named on the outbox row with its parameters; it is rendered when
the message is sent, under the recipient's locale, so the row stays the same
whichever language its recipient reads.  The SMS provider keeps its own copy of
each template (Aliyun's TemplateCode, one per language, from configuration) and
receives only the variables (``TemplateParam``); the embedded outbox and email
get the text rendered here, from the same variables.

Templates:

- ``text``: a text already written by the caller (``app.sms.send``; the log-in
  and sign-up codes).  Variables ``text``.
- ``notice``: an in-app notification copied to SMS/email (registered by
  app/notifications.py, which knows the kinds): its kind and parameters are
  stored, its sentence rendered in the recipient's language.  Variables ``message``.
- ``reminder_24h`` / ``reminder_1h``: a visit tomorrow / in an hour (the
  reminders job).  Variables ``service``, ``time``.
- ``login_code``: the code of a sign-up, a registration or a log-in past the
  throttle (app/auth/services.py).  Variables ``code``, ``minutes``.
- ``password_reset_code``: the code of a password reset (app/auth/recovery.py).
  Variables ``code``.
- ``respond_by_reminder``: a booking request to answer soon (providers' staff).
  Variables ``booking``, ``service``, ``time``.
- ``appeal_deadline``: a sanction's appeal window closing soon (providers' staff).
  Variables ``report``, ``deadline``.
- ``budget_running_out``: a programme's budget projected to run out soon (officials).
  Variables ``programme``, ``date``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


@dataclass(frozen=True)
class Rendered:
    """A message as the recipient reads it, and the variables the provider's template takes."""

    subject: str
    text: str
    variables: dict


@dataclass(frozen=True)
class Template:
    name: str
    subject: object  # lazy text
    text: object  # lazy text with %(variable)s placeholders
    variables: Callable[[Mapping], dict]
    secret: tuple[str, ...] = ()  # params nobody but the recipient may read (a code): masked once sent


def _given(*names: str) -> Callable[[Mapping], dict]:
    def variables(params: Mapping) -> dict:
        return {name: str(params.get(name, "")) for name in names}

    return variables


TEMPLATES: dict[str, Template] = {}


def register(template: Template) -> None:
    if template.name in TEMPLATES and TEMPLATES[template.name] is not template:
        raise ValueError(f"message template {template.name!r} registered twice")
    TEMPLATES[template.name] = template


for _template in (
    Template("text", _l("Linli"), "%(text)s", _given("text")),  # already written by the caller
    Template("reminder_24h", _l("Your visit tomorrow"),
             _l("Linli reminder: your visit “%(service)s” is tomorrow at %(time)s."), _given("service", "time")),
    Template("reminder_1h", _l("Your visit in one hour"),
             _l("Linli reminder: your visit “%(service)s” starts at %(time)s, in one hour."),
             _given("service", "time")),
    Template("login_code", _l("Your Linli code"),
             _l("Linli: your code is %(code)s. It is valid for %(minutes)s minutes. Never tell it to anyone."),
             _given("code", "minutes"), secret=("code",)),
    Template("password_reset_code", _l("Your Linli password reset code"),
             _l("Linli: your password reset code is %(code)s, valid for 10 minutes. Never tell it to anyone, "
                "not even Linli staff."), _given("code"), secret=("code",)),
    Template("respond_by_reminder", _l("A booking request waits for your answer"),
             _l("Linli: booking request #%(booking)s (%(service)s) needs your answer by %(time)s, "
                "or it expires."), _given("booking", "service", "time")),
    Template("appeal_deadline", _l("Your appeal window closes soon"),
             _l("Linli: you may appeal penalty report #%(report)s until %(deadline)s; after that the "
                "sanction takes effect."), _given("report", "deadline")),
    Template("budget_running_out", _l("A programme's budget runs out soon"),
             _l("Linli: the budget of the programme %(programme)s is projected to run out on %(date)s."),
             _given("programme", "date")),
):
    register(_template)


def language_of(locale: str | None) -> str:
    """The language a message is written in for a user's stored locale (zh unless en)."""
    return locale if locale in LANGUAGES else DEFAULT_LANGUAGE


class UnknownTemplate(LookupError):
    pass


MASK = "••••••"


def masked(template: str, params: Mapping) -> dict:
    """``params`` with the template's secret values (a log-in or reset code) masked: what is
    kept once the message is sent or dead, and all an official's outbox page ever shows."""
    found = TEMPLATES.get(template)
    secret = found.secret if found is not None else ()
    return {k: (MASK if k in secret else v) for k, v in dict(params or {}).items()}


def is_secret(template: str) -> bool:
    found = TEMPLATES.get(template)
    return bool(found is not None and found.secret)


def render(template: str, params: Mapping, language: str) -> Rendered:
    """``template`` with ``params`` in ``language`` (needs an app context)."""
    found = TEMPLATES.get(template)
    if found is None:
        raise UnknownTemplate(f"no message template {template!r}")
    with force_locale(language_of(language)):
        variables = found.variables(params or {})
        text = str(found.text) % variables
        return Rendered(subject=str(found.subject), text=text, variables=variables)
