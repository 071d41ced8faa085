"""The home-location form, as the resident's page and the official's page both use it:
parse what the browser sent, hand it to :func:`providers.visits.home.set_home`."""

from __future__ import annotations

from flask import render_template

from app.extensions import db
from app.models import User
from app.uow import form_action
from providers.visits import geo, home
from providers.visits.office_forms import HomeForm

# parse_position names the position "location"; the page shows it beside the latitude.
ALIASES = {"location": "lat"}


def render_home(template: str, resident: User, form: HomeForm | None = None, *, status: int = 200, **context):
    return render_template(template, resident=resident, home=geo.home_of(db.session, resident.id),
                           form=form or HomeForm(formdata=None), **context), status


def save_home(form: HomeForm, resident: User, actor: User, render) -> None:
    """Set the home from ``form`` (committed), or answer ``render(status)`` with the fault shown."""
    with form_action(form, render, aliases=ALIASES):
        position = geo.parse_position(form.lat.data, form.lon.data, form.accuracy.data)
        home.set_home(db.session, resident, actor, position, form.location_method(),
                      consent=bool(form.consent.data), reason=form.reason.data)
