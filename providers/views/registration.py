"""Registering an organisation: the public registration form, then the code sent by SMS
to the first staff member's phone (the account is made only once it comes back)."""

from __future__ import annotations

from dataclasses import asdict

import sqlalchemy as sa
from flask import flash, redirect, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.access import public
from app.auth import services as accounts
from app.auth.forms import CodeForm, EmptyForm
from app.auth.views import Refusal, client_ip, remember_device, start_session
from app.db import write_transaction
from app.errors import Invalid
from app.extensions import db
from app.models import CodePurpose
from app.uow import form_action
from providers import registration
from providers.forms import RegistrationForm
from providers.models import ServiceCategory
from providers.views import bp

REGISTRATION_CODE = "linli.registration_code"


def _logged_in_elsewhere():
    if current_user.is_provider_staff:
        return redirect(url_for("providers.dashboard"))
    flash(_("You are logged in. Log out first to register an organisation."), "error")
    return redirect(url_for("main.home"))


@bp.route("/providers/register", methods=["GET", "POST"])
@public
def register():
    """The registration form (200); refused input re-rendered with the message on its
    field (422, nothing written; 429 with Retry-After past the code limits); accepted
    details wait, and a code goes by SMS to the staff phone: a redirect to the code step."""
    if current_user.is_authenticated:
        return _logged_in_elsewhere()
    form = RegistrationForm()
    form.fill_choices()
    refusal = Refusal(form)

    def page(status: int = 200):
        categories = db.session.scalars(sa.select(ServiceCategory).order_by(ServiceCategory.sort_order))
        return refusal.page("providers/register.html", 422 if form.errors and status != 429 else status, form=form,
                            qualifications=registration.qualifications_needed(list(categories)))

    if form.validate_on_submit():
        details = form.details()
        try:
            with write_transaction(db.session), form_action(form, page, show=refusal):
                registration.check_registration(
                    db.session, details, staff_name=form.staff_name.data, staff_phone=form.staff_phone.data,
                    password=form.password.data,
                )
                code = accounts.send_registration_code(
                    db.session, phone=form.staff_phone.data, password=form.password.data, ip=client_ip(),
                    payload={"details": asdict(details), "staff_name": form.staff_name.data},
                    field="staff_phone",
                )
        except IntegrityError:  # rolled back by form_action
            flash(_("These details were registered a moment ago. Check them and try again."), "error")
            return page(409)
        session[REGISTRATION_CODE] = code.id
        flash(_("We sent a 6-digit code by SMS to %(phone)s. Enter it here.", phone=code.phone), "success")
        return redirect(url_for("providers.register_verify"))
    return page(422 if form.errors else 200)


@bp.route("/providers/register/verify", methods=["GET", "POST"])
@public
def register_verify():
    """The code sent to the staff phone.  Right: the organisation is registered (pending
    review) with its first staff member logged in; wrong: 422 with the tries left."""
    if current_user.is_authenticated:
        return _logged_in_elsewhere()
    if not session.get(REGISTRATION_CODE):
        return redirect(url_for("providers.register"))
    form = CodeForm()
    refusal = Refusal(form)

    def page(status: int = 200):
        return refusal.page("providers/register_verify.html", status, form=form, resend_form=EmptyForm())

    if form.validate_on_submit():
        # The try is counted (and a right code used up) whatever the registration says next.
        with write_transaction(db.session), form_action(form, page, show=refusal, keep=Invalid):
            phone, waiting = accounts.take_registration_code(db.session, session.get(REGISTRATION_CODE),
                                                             form.code.data)
        session.pop(REGISTRATION_CODE, None)
        try:
            with form_action(form, lambda _status: page(422)):  # any refusal: 422, nothing written
                provider, user = registration.register_provider(
                    db.session, registration.ProviderDetails(**waiting["details"]),
                    staff_name=waiting["staff_name"], staff_phone=phone, password=None,
                    password_hash=waiting["password_hash"],
                )
        except IntegrityError:  # rolled back by form_action
            # Someone took the same credit code or phone between our check and the insert.
            flash(_("These details were registered a moment ago. Check them and try again."), "error")
            return redirect(url_for("providers.register"))
        start_session(user)
        flash(
            _("%(name)s is registered and waits for review by the district.", name=provider.name),
            "success",
        )
        response = redirect(url_for("providers.dashboard"))
        remember_device(response, user)
        return response
    return page(422 if form.errors else 200)


@bp.route("/providers/register/verify/resend", methods=["POST"])
@public
def register_resend():
    """A new code for the waiting registration (the old one stops working)."""
    form = EmptyForm()
    if current_user.is_authenticated or not form.validate_on_submit() or not session.get(REGISTRATION_CODE):
        return redirect(url_for("providers.register"))
    with write_transaction(db.session), form_action(None, lambda _s: redirect(url_for("providers.register_verify"))):
        code = accounts.resend_code(db.session, session.get(REGISTRATION_CODE), CodePurpose.REGISTER, client_ip())
    session[REGISTRATION_CODE] = code.id
    flash(_("We sent a new code by SMS to %(phone)s.", phone=code.phone), "success")
    return redirect(url_for("providers.register_verify"))
