"""Sign-up, log-in and log-out, the account page, language and text-size switches."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.access import login_required, public
from app.auth import services
from app.auth.forms import AccountForm, EmptyForm, LoginForm, PasswordForm, SignupForm, TokenForm
from app.errors import Invalid
from app.extensions import db
from app.i18n import LANG_COOKIE, LARGE_TEXT_COOKIE
from app.models import ApiToken, Community
from app.uow import apply_form_error, commit, form_action

__all__ = ["apply_form_error"]  # re-exported for providers/bookings' views, which import it from here

bp = Blueprint("auth", __name__)

ONE_YEAR = 365 * 24 * 3600


def safe_next(target: str | None, default: str) -> str:
    """Only redirect to a path on this site; anything else goes to ``default``.

    The target must start with one ``/`` (not ``//``), name no scheme or host, and
    hold no character that a header or a browser reads differently from what was
    checked: control characters (C0, DEL, C1: CR/LF would split the Location header,
    a browser drops tabs and newlines, so a tab between two slashes makes
    ``//evil.example``), Unicode line and paragraph separators, format characters
    (bidi overrides, zero-width), spaces and backslashes (read as ``/``).  The path
    is checked again once percent-decoded (``/%0D%0A``, ``/%2F/evil.example``); an
    encoded query stays encoded in the Location header and reaches only our page.
    """
    import unicodedata  # only this function needs them
    from urllib.parse import unquote

    # Unicode categories refused as given: control (Cc), format (Cf), line and paragraph
    # separators (Zl, Zp), spaces (Zs); in the decoded path, all of them but spaces.
    unsafe, unsafe_in_path = {"Cc", "Cf", "Zl", "Zp", "Zs"}, {"Cc", "Cf", "Zl", "Zp"}
    if not target or not isinstance(target, str):
        return default
    if any(unicodedata.category(ch) in unsafe or ch == "\\" for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    path = unquote(parts.path)
    if path.startswith(("//", "/\\")) or any(
            unicodedata.category(ch) in unsafe_in_path or ch == "\\" for ch in path):
        return default
    return target


def client_ip() -> str:
    return request.remote_addr or "unknown"


def start_session(user, remember: bool = False) -> None:
    """A fresh session on log-in (no fixation), then remember the user."""
    session.clear()
    login_user(user, remember=remember)


def community_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(sa.select(Community.id, Community.name).order_by(Community.name))
    return [(row.id, row.name) for row in rows]


@bp.route("/signup", methods=["GET", "POST"])
@public
def signup():
    """Resident sign-up: name, phone (the log-in), password, community."""
    form = SignupForm()
    form.community.choices = [(0, _("Choose…"))] + community_choices()

    def page(_status: int = 200):
        return render_template("auth/signup.html", form=form), 422 if form.errors else 200

    if form.validate_on_submit():
        with form_action(form, page):
            user = services.sign_up_resident(
                db.session,
                phone=form.phone.data,
                name=form.name.data,
                password=form.password.data,
                community_id=form.community.data or None,
            )
        start_session(user)
        flash(_("Welcome to Linli, %(name)s!", name=user.name), "success")
        return redirect(url_for("providers.catalogue"))
    return page()


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()

    def page(status: int = 200):
        return render_template("auth/login.html", form=form), status

    if form.validate_on_submit():
        # A wrong password keeps the failed attempt (the throttle counts it); a
        # throttled one (429) writes nothing.
        with form_action(form, page, keep=Invalid):
            user = services.authenticate(
                db.session, phone=form.phone.data, password=form.password.data, ip=client_ip()
            )
        start_session(user, remember=form.remember.data)
        flash(_("You are logged in."), "success")
        return redirect(safe_next(request.args.get("next"), url_for("main.home")))
    return page(422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out here and end every other session of this user too."""
    current_user.end_sessions()
    commit(db.session)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(url_for("main.home"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = AccountForm(obj=current_user)
    if form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.locale = form.locale.data
        current_user.large_text = form.large_text.data
        commit(db.session)
        flash(_("Your details are saved."), "success")
        response = redirect(url_for("auth.account"))
        response.set_cookie(LANG_COOKIE, form.locale.data, max_age=ONE_YEAR, samesite="Lax")
        response.set_cookie(
            LARGE_TEXT_COOKIE, "1" if form.large_text.data else "0", max_age=ONE_YEAR, samesite="Lax"
        )
        return response
    tokens = db.session.scalars(
        sa.select(ApiToken)
        .where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at)
    ).all()
    return render_template(
        "auth/account.html",
        form=form,
        password_form=PasswordForm(),
        token_form=TokenForm(),
        tokens=tokens,
        empty_form=EmptyForm(),
    ), 422 if form.errors else 200


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        with form_action(None, lambda _status: redirect(url_for("auth.account"))):
            services.change_password(
                db.session, current_user, current=form.current_password.data, new=form.new_password.data
            )
        # Every other session has ended; keep this one with the new nonce.
        start_session(current_user._get_current_object())
        flash(_("Your password is changed. Other devices have been logged out."), "success")
    else:
        flash(_("Enter your current password and a new one."), "error")
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name (60 characters at most)."), "error")
        return redirect(url_for("auth.account"))
    with form_action(None, lambda _status: redirect(url_for("auth.account"))):
        _token, raw = services.issue_token(db.session, current_user, form.name.data)
    flash(_("Your new API token (copy it now, it is shown only once): %(token)s", token=raw), "token")
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    form = EmptyForm()
    if form.validate_on_submit():
        services.revoke_token(db.session, current_user, token_id)
        commit(db.session)
        flash(_("The token is revoked."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/preferences/language", methods=["POST"])
@public
def set_language():
    form = EmptyForm()
    lang = request.form.get("lang", "zh")
    response = redirect(safe_next(request.form.get("next"), url_for("main.home")))
    if form.validate_on_submit() and lang in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=ONE_YEAR, samesite="Lax")
        if current_user.is_authenticated:
            current_user.locale = lang
            commit(db.session)
    return response


@bp.route("/preferences/large-text", methods=["POST"])
@public
def toggle_large_text():
    form = EmptyForm()
    on = request.form.get("on") == "1"
    response = redirect(safe_next(request.form.get("next"), url_for("main.home")))
    if form.validate_on_submit():
        response.set_cookie(LARGE_TEXT_COOKIE, "1" if on else "0", max_age=ONE_YEAR, samesite="Lax")
        if current_user.is_authenticated:
            current_user.large_text = on
            commit(db.session)
    return response
