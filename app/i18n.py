"""Language, time zone and display helpers for templates.

Simplified Chinese is the default; English is one click away.  The choice is
kept in a cookie (and on the account of a logged-in user).  The large-text,
high-contrast mode for elderly residents is kept the same way.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

from app import audit
from app.clock import local
from app.models import tier_label
from app.money import format_fen

LANG_COOKIE = "linli_lang"
LARGE_TEXT_COOKIE = "linli_large"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # jobs, CLI: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["LINLI_TIMEZONE"]


def large_text_enabled() -> bool:
    cookie = request.cookies.get(LARGE_TEXT_COOKIE)
    if cookie is not None:
        return cookie == "1"
    return bool(current_user and current_user.is_authenticated and current_user.large_text)


def html_lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh-CN"


def format_local(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local(value).strftime(fmt)
    return value.strftime("%Y-%m-%d")


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["fen"] = format_fen
    app.jinja_env.filters["localtime"] = format_local
    # An audit event's action code and its actor, as people read them (app/audit.py).
    app.jinja_env.globals["audit_label"] = audit.action_label
    app.jinja_env.globals["audit_actor"] = audit.actor_label
    app.jinja_env.globals["tier_label"] = tier_label

    @app.context_processor
    def inject():
        return {
            "html_lang": html_lang(),
            "large_text": large_text_enabled(),
            "current_locale": str(get_locale() or "zh"),
        }
