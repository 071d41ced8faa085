"""The roster pages under /provider/carers, for the provider's staff.

Staff see and change only their own provider's carers (another provider's is a
404).  Every change goes through :func:`app.uow.form_action` (one commit, the
refusal next to its field, nothing written) and is audited by the service.
The ID number is shown masked only; it is never sent back to the browser.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import provider_staff_required
from app.auth.forms import EmptyForm
from app.clock import today
from app.extensions import db
from app.uow import form_action
from providers import registration
from providers.carers import services
from providers.carers.expiry import WARN_DAYS
from providers.carers.forms import CarerEditForm, CarerForm, QualificationForm

bp = Blueprint("carers", __name__, template_folder="templates")


def _user():
    return current_user._get_current_object()


def _provider_id() -> int:
    return registration.provider_of(db.session, current_user).id


def _render_roster(form=None, status: int = 200):
    return render_template(
        "carers/roster.html", carers=services.roster(db.session, _provider_id()),
        form=form or CarerForm(formdata=None), today=today(), warn_days=WARN_DAYS,
    ), status


def _render_carer(carer_id: int, *, form=None, qualification_form=None, status: int = 200):
    carer = services.carer_of(db.session, _provider_id(), carer_id)
    return render_template(
        "carers/carer.html", carer=carer, today=today(),
        form=form or CarerEditForm(formdata=None, obj=carer),
        qualification_form=qualification_form or QualificationForm(formdata=None),
        empty_form=EmptyForm(),
    ), status


@bp.route("/provider/carers")
@provider_staff_required
def roster():
    """The provider's carers (active first), with the form to add one."""
    return _render_roster()


@bp.route("/provider/carers", methods=["POST"])
@provider_staff_required
def add():
    """Add a carer: redirect to their page; 422 with every mistake next to its field, 409 for
    a person already on the roster; nothing written."""
    provider_id = _provider_id()
    form = CarerForm()
    if not form.validate_on_submit():
        return _render_roster(form, 422)
    with form_action(form, lambda status: _render_roster(form, status)):
        carer = services.add_carer(db.session, provider_id, _user(), name=form.name.data,
                                   phone=form.phone.data, id_number=form.id_number.data)
    flash(_("%(name)s is on your roster. Add their certificates below.", name=carer.name), "success")
    return redirect(url_for("carers.carer", carer_id=carer.id))


@bp.route("/provider/carers/<int:carer_id>")
@provider_staff_required
def carer(carer_id: int):
    """One carer: name and phone to correct, qualifications, deactivate or reactivate."""
    return _render_carer(carer_id)


@bp.route("/provider/carers/<int:carer_id>", methods=["POST"])
@provider_staff_required
def update(carer_id: int):
    form = CarerEditForm()
    carer = services.carer_of(db.session, _provider_id(), carer_id)
    if not form.validate_on_submit():
        return _render_carer(carer_id, form=form, status=422)
    with form_action(form, lambda status: _render_carer(carer_id, form=form, status=status)):
        services.update_carer(db.session, carer, _user(), name=form.name.data, phone=form.phone.data)
    flash(_("The carer's details are saved."), "success")
    return redirect(url_for("carers.carer", carer_id=carer_id))


@bp.route("/provider/carers/<int:carer_id>/deactivate", methods=["POST"])
@provider_staff_required
def deactivate(carer_id: int):
    """No new visits for this carer (assigned ones keep them until changed)."""
    return _set_active(carer_id, False)


@bp.route("/provider/carers/<int:carer_id>/reactivate", methods=["POST"])
@provider_staff_required
def reactivate(carer_id: int):
    return _set_active(carer_id, True)


def _set_active(carer_id: int, active: bool):
    carer = services.carer_of(db.session, _provider_id(), carer_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        return _render_carer(carer_id, status=422)
    with form_action(None, lambda status: _render_carer(carer_id, status=status)):
        services.set_active(db.session, carer, _user(), active)
    flash(_("The carer is active again.") if active else _("The carer is deactivated: no new visits."), "success")
    return redirect(url_for("carers.carer", carer_id=carer_id))


@bp.route("/provider/carers/<int:carer_id>/qualifications", methods=["POST"])
@provider_staff_required
def add_qualification(carer_id: int):
    carer = services.carer_of(db.session, _provider_id(), carer_id)
    form = QualificationForm()
    if not form.validate_on_submit():
        return _render_carer(carer_id, qualification_form=form, status=422)
    with form_action(form, lambda status: _render_carer(carer_id, qualification_form=form, status=status)):
        services.add_qualification(db.session, carer, _user(), kind=form.kind.data, number=form.number.data,
                                   expires_on=form.expires_on.data)
    flash(_("The qualification is added."), "success")
    return redirect(url_for("carers.carer", carer_id=carer_id))


@bp.route("/provider/carers/<int:carer_id>/qualifications/<int:qualification_id>/remove", methods=["POST"])
@provider_staff_required
def remove_qualification(carer_id: int, qualification_id: int):
    carer = services.carer_of(db.session, _provider_id(), carer_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        return _render_carer(carer_id, status=422)
    with form_action(None, lambda status: _render_carer(carer_id, status=status), reraise=(404,)):
        services.remove_qualification(db.session, carer, _user(), qualification_id)
    flash(_("The qualification is removed."), "success")
    return redirect(url_for("carers.carer", carer_id=carer_id))
