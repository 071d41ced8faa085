"""Sign-up (two steps: the details, then the code sent to the phone), log-in (with a
known-device cookie, and by SMS code past the throttle) and log-out, the account
page with its API tokens, the SMS outbox for officials, language and text-size switches."""

from __future__ import annotations

from urllib.parse import urlsplit

import secrets

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.access import login_required, official_required, public
from app.auth import services
from app.auth.forms import (
    AccountForm,
    CodeForm,
    EmptyForm,
    LoginCodeForm,
    LoginForm,
    PasswordForm,
    SendCodeForm,
    SignupForm,
    TokenForm,
)
from app.clock import now
from app.db import write_transaction
from app.errors import Invalid, LinliError
from app.extensions import db
from app.i18n import LANG_COOKIE, LARGE_TEXT_COOKIE
from app.models import CodePurpose, Community, SmsMessage
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


class Refusal:
    """A ``show`` for :func:`form_action` that also keeps a 429's ``Retry-After``."""

    def __init__(self, form):
        self.form = form
        self.retry_after: int | None = None

    def __call__(self, error) -> None:
        self.retry_after = getattr(error, "retry_after", None)
        apply_form_error(self.form, error)

    def page(self, template: str, status: int, **context):
        response = make_response(render_template(template, **context), status)
        if status == 429 and self.retry_after:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


def check_the_rest(form, check) -> None:
    """A form its own validators refused: also show what ``check()`` (a service's check of
    the same input, raising :class:`~app.errors.Problems`) finds wrong with the fields they
    passed, so the person sees every problem at once.  Not for a form refused for its CSRF
    token (nothing it says can be trusted to be theirs)."""
    if not form.is_submitted() or not form.errors or getattr(form, "csrf_token", None) is not None and (
            form.csrf_token.errors):
        return
    try:
        check()
    except LinliError as error:
        for one in getattr(error, "errors", None) or [error]:
            field = getattr(form, one.field, None) if one.field else None
            if field is not None and not field.errors:
                apply_form_error(form, one)


# --- the known-device cookie ------------------------------------------------------------

DEVICE_COOKIE = "linli_device"


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="linli.known-device")


def known_device() -> tuple[int, str] | None:
    """(user id, device id) from the signed cookie an earlier successful log-in set here."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _devices().loads(raw, max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 86400)
        return int(value["u"]), str(value["d"])[:32]
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def remember_device(response, user) -> None:
    """Mark this browser as the user's known device (kept if it is already)."""
    device = known_device()
    device_id = device[1] if device is not None and device[0] == user.id else secrets.token_urlsafe(12)
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE, _devices().dumps({"u": user.id, "d": device_id}),
        max_age=config["DEVICE_COOKIE_DAYS"] * 86400, httponly=True, samesite="Lax",
        secure=config["SESSION_COOKIE_SECURE"],
    )


# --- sign-up ----------------------------------------------------------------------------

SIGNUP_CODE = "linli.signup_code"
LOGIN_CODE = "linli.login_code"


@bp.route("/signup", methods=["GET", "POST"])
@public
def signup():
    """Resident sign-up, step 1: name, phone (the log-in), password, community.  A 6-digit
    code goes to the phone by SMS, then a redirect to step 2; refused input re-rendered
    with the message on its field (422, or 429 with Retry-After past the limit)."""
    form = SignupForm()
    form.community.choices = [(0, _("Choose…"))] + community_choices()
    refusal = Refusal(form)

    def page(status: int = 200):
        # A taken phone (409) is shown on its field like any refused input: 422.
        return refusal.page("auth/signup.html", 422 if form.errors and status != 429 else status, form=form)

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal):
            code = services.start_signup(
                db.session,
                phone=form.phone.data,
                name=form.name.data,
                password=form.password.data,
                community_id=form.community.data or None,
                ip=client_ip(),
            )
        session[SIGNUP_CODE] = code.id
        flash(_("We sent a 6-digit code by SMS to %(phone)s. Enter it here.", phone=code.phone), "success")
        return redirect(url_for("auth.signup_verify"))
    check_the_rest(form, lambda: services.check_signup(
        db.session, phone=form.phone.data, name=form.name.data, password=form.password.data,
        community_id=form.community.data or None))
    return page(422 if form.errors else 200)


@bp.route("/signup/verify", methods=["GET", "POST"])
@public
def signup_verify():
    """Sign-up, step 2: the code from the SMS.  Right: the account is made, logged in and
    sent to the catalogue; wrong: 422 with the tries left (each try counted)."""
    if not session.get(SIGNUP_CODE):
        return redirect(url_for("auth.signup"))
    form = CodeForm()
    refusal = Refusal(form)

    def page(status: int = 200):
        return refusal.page("auth/signup_verify.html", status, form=form, resend_form=EmptyForm())

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal, keep=Invalid):
            user = services.confirm_signup(db.session, session.get(SIGNUP_CODE), form.code.data)
        start_session(user)
        flash(_("Welcome to Linli, %(name)s!", name=user.name), "success")
        response = redirect(url_for("providers.catalogue"))
        remember_device(response, user)
        return response
    return page(422 if form.errors else 200)


@bp.route("/signup/verify/resend", methods=["POST"])
@public
def signup_resend():
    """A new code for the pending sign-up (the old one stops working)."""
    form = EmptyForm()
    if not form.validate_on_submit() or not session.get(SIGNUP_CODE):
        return redirect(url_for("auth.signup"))
    with write_transaction(db.session), form_action(None, lambda _s: redirect(url_for("auth.signup_verify"))):
        code = services.resend_code(db.session, session.get(SIGNUP_CODE), CodePurpose.SIGNUP, client_ip())
    session[SIGNUP_CODE] = code.id
    flash(_("We sent a new code by SMS to %(phone)s.", phone=code.phone), "success")
    return redirect(url_for("auth.signup_verify"))


# --- log-in -----------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Phone and password.  Each attempt is counted before the password is checked; past
    the limit a 429 page with Retry-After offers a code by SMS instead.  A successful
    log-in marks the browser as a known device of the account."""
    form = LoginForm()
    refusal = Refusal(form)

    def page(status: int = 200):
        return refusal.page("auth/login.html", status, form=form, code_form=SendCodeForm(phone=form.phone.data),
                            throttled=status == 429)

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal):
            attempt = services.begin_login(
                db.session, phone=form.phone.data, ip=client_ip(), device=known_device()
            )
        # Counted and committed: now the slow password check, holding no lock.
        with form_action(form, page, show=refusal):
            user = services.finish_login(db.session, attempt, form.password.data)
        start_session(user, remember=form.remember.data)
        flash(_("You are logged in."), "success")
        response = redirect(safe_next(request.args.get("next"), url_for("main.home")))
        remember_device(response, user)
        return response
    return page(422 if form.errors else 200)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():
    """Ask for a log-in code by SMS (for an owner locked out by someone else's guesses).
    The answer is the same whether or not the phone has an account."""
    form = SendCodeForm()
    refusal = Refusal(form)

    def page(status: int = 200):
        return refusal.page("auth/login_code.html", status, form=form)

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal):
            code = services.send_login_code(db.session, phone=form.phone.data, ip=client_ip())
        session[LOGIN_CODE] = code.id if code is not None else 0
        flash(_("If this number has an account, a code is on its way by SMS. Enter it with your password."),
              "success")
        return redirect(url_for("auth.login_code_verify"))
    return page(422 if form.errors else 200)


@bp.route("/login/code/verify", methods=["GET", "POST"])
@public
def login_code_verify():
    """The code from the SMS and the password: logged in past the per-phone throttle."""
    if LOGIN_CODE not in session:
        return redirect(url_for("auth.login_code"))
    form = LoginCodeForm()
    refusal = Refusal(form)

    def page(status: int = 200):
        return refusal.page("auth/login_code_verify.html", status, form=form)

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal, keep=Invalid):
            user = services.login_with_code(db.session, session.get(LOGIN_CODE), form.code.data,
                                            form.password.data)
        start_session(user)
        flash(_("You are logged in."), "success")
        response = redirect(url_for("main.home"))
        remember_device(response, user)
        return response
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


def render_account(*, form=None, password_form=None, token_form=None, status: int | None = None):
    """The account page with its three forms; a refused one shows its errors beside its
    fields and in the summary at the top (422), the others blank."""
    forms = [form or AccountForm(obj=current_user, formdata=None), password_form or PasswordForm(formdata=None),
             token_form or TokenForm(formdata=None)]
    failed = any(f.errors for f in forms)
    return render_template(
        "auth/account.html",
        form=forms[0],
        password_form=forms[1],
        token_form=forms[2],
        tokens=services.live_tokens(db.session, current_user),
        now=now(),
        empty_form=EmptyForm(),
    ), status or (422 if failed else 200)


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
    return render_account(form=form)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    """A new password ends every other session and revokes every API token (the page says
    so) and redirects to the account page; refused (a field missing, the current password
    wrong, the new one too weak: every one at once), the account page shows each beside its
    field (422), nothing changed."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_account(password_form=form)
    with form_action(form, lambda status: render_account(password_form=form, status=status)):
        revoked = services.change_password(
            db.session, current_user, current=form.current_password.data, new=form.new_password.data
        )
    # Every other session has ended; keep this one with the new nonce.
    start_session(current_user._get_current_object())
    flash(_("Your password is changed. Other devices have been logged out."), "success")
    if revoked:
        flash(ngettext("Your API token was revoked with the old password: create a new one for your program.",
                       "Your %(num)d API tokens were revoked with the old password: create new ones for your "
                       "programs.", revoked), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens", methods=["POST"])
@login_required
def create_token():
    """A new token, shown once, and back to the account page; a missing or too long name is
    shown beside its field (422)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return render_account(token_form=form)
    with form_action(form, lambda status: render_account(token_form=form, status=status)):
        token, raw = services.issue_token(db.session, current_user, form.name.data, form.scope.data)
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


@bp.route("/account/tokens/<int:token_id>/renew", methods=["POST"])
@login_required
def renew_token(token_id: int):
    """The token works for another full lifetime from now (404 for someone else's)."""
    form = EmptyForm()
    if form.validate_on_submit():
        with form_action(None, lambda _status: redirect(url_for("auth.account")), reraise=(404,)):
            token = services.renew_token(db.session, current_user, token_id)
        flash(_("The token is renewed until %(date)s.", date=token.expires_at.strftime("%Y-%m-%d")), "success")
    return redirect(url_for("auth.account"))


# --- the embedded SMS channel's outbox -----------------------------------------------------

OUTBOX_PAGE = 100


@bp.route("/official/sms-outbox")
@official_required
def sms_outbox():
    """The latest texts of the embedded SMS channel (app/sms.py), newest first.

    The embedded channel is the phone of every account on a machine that sends no real
    text messages (``make run``, the tests), so its codes are readable here.  Once a real
    provider sends them (``LINLI_SMS_SENDER=aliyun``) this page is gone (404): nobody but
    the phone's owner reads a code; /official/outbox shows every message with codes masked."""
    if current_app.config.get("SMS_SENDER", "outbox") != "outbox":
        abort(404)
    messages = db.session.scalars(
        sa.select(SmsMessage).order_by(SmsMessage.id.desc()).limit(OUTBOX_PAGE)
    ).all()
    return render_template("auth/sms_outbox.html", messages=messages)


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
