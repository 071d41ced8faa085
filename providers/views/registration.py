"""Registering an organisation: the public registration form."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.access import public
from app.auth.views import start_session
from app.extensions import db
from app.uow import form_action
from providers import registration
from providers.forms import RegistrationForm
from providers.models import ServiceCategory
from providers.views import bp


@bp.route("/providers/register", methods=["GET", "POST"])
@public
def register():
    """The registration form (200); refused input re-rendered with the message on its
    field (422, nothing written); on success a redirect to the new provider's
    dashboard with its first staff member logged in."""
    if current_user.is_authenticated:
        if current_user.is_provider_staff:
            return redirect(url_for("providers.dashboard"))
        flash(_("You are logged in. Log out first to register an organisation."), "error")
        return redirect(url_for("main.home"))
    form = RegistrationForm()
    form.fill_choices()

    def page(status: int = 200):
        categories = db.session.scalars(sa.select(ServiceCategory).order_by(ServiceCategory.sort_order))
        return render_template("providers/register.html", form=form,
                               qualifications=registration.qualifications_needed(list(categories))), status

    if form.validate_on_submit():
        try:
            with form_action(form, lambda _status: page(422)):  # any refusal: 422, nothing written
                provider, user = registration.register_provider(
                    db.session,
                    form.details(),
                    staff_name=form.staff_name.data,
                    staff_phone=form.staff_phone.data,
                    password=form.password.data,
                )
        except IntegrityError:  # rolled back by form_action
            # Someone took the same credit code or phone between our check and the insert.
            flash(_("These details were registered a moment ago. Check them and try again."), "error")
            return page(409)
        start_session(user)
        flash(
            _("%(name)s is registered and waits for review by the district.", name=provider.name),
            "success",
        )
        return redirect(url_for("providers.dashboard"))
    return page(422 if form.errors else 200)
