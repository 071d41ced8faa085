"""The community office's visit pages (blueprint ``visit_office``, officials only):

- ``/official/homes``: find a resident by mobile number;
- ``/official/residents/<id>/home``: set a resident's home, or correct it with a reason;
- ``/official/residents/<id>/cards``: the resident's code cards and their codes left;
  issuing one answers the printable card — the only time its codes are shown
  (only digests are stored); ``/official/cards/<id>/revoke`` with a reason;
- the visit evidence page, in :mod:`providers.visits.evidence_views`.

Every write goes through :func:`app.uow.form_action`: one commit, the refusal shown
beside its field, nothing written.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import audit
from app.access import official_required
from app.errors import LinliError, NotFound
from app.extensions import db
from app.uow import form_action
from providers.visits import cards, geo, home
from providers.visits.office_forms import EmptyForm, HomeForm, ReasonForm
from providers.visits.home_form import render_home, save_home
from providers.visits.models import CodeCard

bp = Blueprint("visit_office", __name__, template_folder="templates")

HOME_TEMPLATE = "visit_office/resident_home.html"


def _me():
    return current_user._get_current_object()


def _resident(resident_id: int):
    return home.resident_by_id(db.session, resident_id)


# --- finding a resident ----------------------------------------------------------------


@bp.route("/official/homes")
@official_required
def find_resident():
    """``phone=`` finds the resident (their home and code cards); a wrong or unknown
    number is shown beside the search box, never an error page."""
    phone = (request.args.get("phone") or "").strip()
    resident, error = None, None
    if phone:
        try:
            resident = home.find_resident(db.session, phone)
        except LinliError as refused:
            error = str(refused)
    return render_template("visit_office/find_resident.html", phone=phone, resident=resident, error=error,
                           home=geo.home_of(db.session, resident.id) if resident is not None else None)


# --- a resident's home -------------------------------------------------------------------


@bp.route("/official/residents/<int:resident_id>/home")
@official_required
def resident_home(resident_id: int):
    """The resident's home location and the form to set or correct it; an official's look at
    a stored home (its coordinates) is recorded in the audit log (PIPL)."""
    resident = _resident(resident_id)
    if geo.home_of(db.session, resident.id) is not None:
        audit.record(db.session, actor=_me(), action="home_location.viewed", object_type="user",
                     object_id=resident.id)
        db.session.commit()
    return render_home(HOME_TEMPLATE, resident)


@bp.route("/official/residents/<int:resident_id>/home", methods=["POST"])
@official_required
def set_resident_home(resident_id: int):
    """Set it (consent required) or correct it (a reason too); redirect, or 422 with the
    fault beside its field."""
    resident = _resident(resident_id)
    form = HomeForm()
    if not form.validate_on_submit():
        return render_home(HOME_TEMPLATE, resident, form, status=422)
    save_home(form, resident, _me(), lambda status: render_home(HOME_TEMPLATE, _resident(resident_id), form,
                                                                 status=status))
    flash(_("The home location is saved."), "success")
    return redirect(url_for("visit_office.resident_home", resident_id=resident_id))


# --- code cards --------------------------------------------------------------------------


def _cards(resident_id: int) -> list[tuple[CodeCard, int]]:
    rows = db.session.scalars(sa.select(CodeCard).where(CodeCard.resident_id == resident_id)
                              .order_by(CodeCard.issued_at.desc(), CodeCard.id.desc()))
    return [(card, cards.codes_left(db.session, card)) for card in rows]


def _render_cards(resident, *, revoke_form=None, failed_card: int | None = None, status: int = 200):
    return render_template("visit_office/cards.html", resident=resident, cards=_cards(resident.id),
                           issue_form=EmptyForm(formdata=None), revoke_form=revoke_form,
                           blank_revoke_form=ReasonForm(formdata=None),
                           failed_card=failed_card, per_card=cards.CODES_PER_CARD), status


@bp.route("/official/residents/<int:resident_id>/cards")
@official_required
def resident_cards(resident_id: int):
    """The resident's code cards (in use or revoked), with the codes each has left."""
    return _render_cards(_resident(resident_id))


@bp.route("/official/residents/<int:resident_id>/cards", methods=["POST"])
@official_required
def issue_card(resident_id: int):
    """Issue a card and answer the printable card with its codes (200, shown this once);
    409 when the resident has a card in use."""
    resident = _resident(resident_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        return _render_cards(resident, status=400)
    with form_action(None, lambda status: _render_cards(_resident(resident_id), status=status)):
        card, codes = cards.issue(db.session, resident, _me())
    return render_template("visit_office/card_print.html", resident=resident, card=card,
                           codes=list(enumerate(codes, start=1)))


@bp.route("/official/cards/<int:card_id>/revoke", methods=["POST"])
@official_required
def revoke_card(card_id: int):
    """Revoke a lost or used-up card (reason required); redirect, or 422/409 shown on
    the resident's cards page."""
    card = db.session.get(CodeCard, card_id)
    if card is None:
        raise NotFound(_l("No such code card."))
    resident_id = card.resident_id
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_cards(_resident(resident_id), revoke_form=form, failed_card=card_id, status=422)
    with form_action(form, lambda status: _render_cards(_resident(resident_id), revoke_form=form,
                                                         failed_card=card_id, status=status)):
        locked = db.session.scalar(sa.select(CodeCard).where(CodeCard.id == card_id).with_for_update())
        cards.revoke(db.session, locked, _me(), form.reason.data)
    flash(_("The card is revoked: its codes no longer work."), "success")
    return redirect(url_for("visit_office.resident_cards", resident_id=resident_id))
