"""The resident's own home-location page (``/my/home``), linked from "My bookings".

The resident sets it once, with consent; afterwards the page shows it and says
that only the community office can correct it (providers/visits/home.py).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import resident_required
from providers.visits.office_forms import HomeForm
from providers.visits.home_form import render_home, save_home

bp = Blueprint("visit_home", __name__, template_folder="templates")

TEMPLATE = "visit_office/my_home.html"


def _me():
    return current_user._get_current_object()


@bp.route("/my/home")
@resident_required
def my_home():
    """The resident's home location, or the form to set it (consent required)."""
    return render_home(TEMPLATE, _me())


@bp.route("/my/home", methods=["POST"])
@resident_required
def set_my_home():
    """Set the home once: redirect on success; 422 (fault beside its field) or 409 when
    it is already set; nothing written then."""
    me = _me()
    form = HomeForm()
    if not form.validate_on_submit():
        return render_home(TEMPLATE, me, form, status=422)
    save_home(form, me, me, lambda status: render_home(TEMPLATE, me, form, status=status))
    flash(_("Your home location is saved."), "success")
    return redirect(url_for("visit_home.my_home"))
