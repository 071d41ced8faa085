"""Account recovery pages (app/auth/recovery.py holds the rules).

- /password/forgot → /password/reset: a code by SMS, then the code and a new password
  (logged in once it is right);
- /grid-worker/residents/<id>/password-reset and /official/residents/<id>/password-reset:
  the identity check, then the printable slip with a temporary password (shown once);
- /account/new-password: a user with a temporary password must set her own first (every
  other page sends her there).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField, TextAreaField

from app.access import login_required, official_required, public, roles_required
from app.auth import recovery
from app.auth.views import Refusal, client_ip, remember_device, start_session
from app.clock import now
from app.db import write_transaction
from app.errors import Invalid, problem
from app.extensions import db
from app.grids.workers import mask_phone
from app.models import Role
from app.uow import form_action

bp = Blueprint("recovery", __name__)
RESET_CODE = "linli.reset_code"


class ForgotForm(FlaskForm):
    phone = StringField(_l("Mobile phone"))


class ResetForm(FlaskForm):
    code = StringField(_l("Code from the SMS"))
    new_password = PasswordField(_l("New password"))
    confirm_password = PasswordField(_l("New password again"))


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"))
    confirm_password = PasswordField(_l("New password again"))


class AssistedResetForm(FlaskForm):
    method = RadioField(_l("How did you check who the resident is?"), choices=list(recovery.METHODS.items()),
                        validate_choice=False)
    id_last4 = StringField(_l("Last 4 characters of the ID number"))
    note = TextAreaField(_l("Note"))


def _me():
    return current_user._get_current_object()


# --- a temporary password must be replaced first ------------------------------------------------

OPEN_WITH_TEMPORARY = {"recovery.set_password", "auth.logout", "static", "auth.set_language",
                       "auth.toggle_large_text"}


@bp.before_app_request
def _temporary_password_first():
    """Nothing but setting her own password (and logging out) for a user on a temporary one:
    the pages redirect there, the API answers 403 to her session (a bearer token cannot be
    hers: the reset revoked them all, and she cannot create one before her own password)."""
    if request.endpoint in OPEN_WITH_TEMPORARY:
        return None
    api = request.path.startswith("/api/")
    if api and request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None
    if recovery.must_set_password(current_user):
        if api:
            return problem(403, "forbidden", _("Set your own password first: the temporary one opens only that page."))
        return redirect(url_for("recovery.set_password"))
    return None


@bp.route("/account/new-password", methods=["GET", "POST"])
@login_required
def set_password():
    """Replace a temporary password (or, for anyone, simply set a new one without the old:
    only a user with a temporary password is sent here)."""
    if not recovery.must_set_password(current_user):
        return redirect(url_for("main.home"))
    form = NewPasswordForm()

    def page(status: int = 200):
        return render_template("auth/recovery/new_password.html", form=form), status

    if form.validate_on_submit():
        user = _me()
        with form_action(form, page):
            recovery.replace_temporary(db.session, user, new=form.new_password.data,
                                       confirm=form.confirm_password.data)
        start_session(user)
        flash(_("Your new password is set. Use it from now on."), "success")
        return redirect(url_for("main.home"))
    return page(422 if form.errors else 200)


# --- by a code sent by SMS ---------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
def forgot():
    """Ask for a reset code by SMS.  The answer is the same whether or not the phone has an account."""
    form = ForgotForm()
    refusal = Refusal(form)

    def page(status: int = 200):
        return refusal.page("auth/recovery/forgot.html", status, form=form)

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal):
            row = recovery.start_reset(db.session, phone=form.phone.data, ip=client_ip())
        session[RESET_CODE] = row.id
        flash(_("If %(phone)s has an account, a code is on its way by SMS. It works for 10 minutes.",
                phone=row.phone), "success")
        return redirect(url_for("recovery.reset"))
    return page(422 if form.errors else 200)


@bp.route("/password/reset", methods=["GET", "POST"])
@public
def reset():
    """The code from the SMS and a new password, typed twice: every problem at once; right,
    the password is changed, every other session ends and she is logged in."""
    if not session.get(RESET_CODE):
        return redirect(url_for("recovery.forgot"))
    form = ResetForm()
    refusal = Refusal(form)
    pending = recovery.pending_reset(db.session, session.get(RESET_CODE))

    def page(status: int = 200):
        return refusal.page("auth/recovery/reset.html", status, form=form,
                            phone=mask_phone(pending.phone) if pending else None)

    if form.validate_on_submit():
        with write_transaction(db.session), form_action(form, page, show=refusal, keep=Invalid):
            user = recovery.reset_with_code(db.session, session.get(RESET_CODE), code=form.code.data,
                                            new=form.new_password.data, confirm=form.confirm_password.data)
        start_session(user)
        flash(_("Your password is changed and you are logged in. Every other session was ended."), "success")
        response = redirect(url_for("main.home"))
        remember_device(response, user)
        return response
    return page(422 if form.errors else 200)


# --- by a grid worker or an official ----------------------------------------------------------


def _assisted(resident_id: int, back: str):
    resident = recovery.resident_to_reset(db.session, _me(), resident_id)
    form = AssistedResetForm()

    def page(status: int = 200):
        return render_template("auth/recovery/assisted.html", form=form, resident=resident,
                               phone=mask_phone(resident.phone), back=back), status

    if form.validate_on_submit():
        with form_action(form, page):
            password = recovery.assisted_reset(db.session, _me(), resident, method=form.method.data or "",
                                               id_last4=form.id_last4.data, note=form.note.data)
        return render_template("auth/recovery/slip.html", resident=resident, password=password,
                               phone=mask_phone(resident.phone), until=resident.temporary_password_until,
                               helper=_me(), back=back, at=now())
    return page(422 if form.errors else 200)


@bp.route("/grid-worker/residents/<int:resident_id>/password-reset", methods=["GET", "POST"])
@roles_required(Role.GRID_WORKER)
def worker_reset(resident_id: int):
    """A grid worker resets the password of a resident of her grids (anyone else's: 404)."""
    return _assisted(resident_id, url_for("grid_worker.resident", resident_id=resident_id))


@bp.route("/official/residents/<int:resident_id>/password-reset", methods=["GET", "POST"])
@official_required
def official_reset(resident_id: int):
    """An official resets a resident's password after an identity check."""
    return _assisted(resident_id, url_for("visit_office.resident_cards", resident_id=resident_id))
