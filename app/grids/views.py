"""The grid pages: officials manage the tree under /official/grids and assign grid
workers under /official/grid-workers; a grid worker lists the residents of their grids
under /grid-worker/residents (scoped on the server: another grid's resident is a 404).

Every change goes through :func:`app.uow.form_action` (one commit; each refusal on its
field, all at once; nothing written on a refusal); the services audit it.
"""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import official_required, roles_required
from app.auth.forms import EmptyForm
from app.clock import now, today
from app.csv_export import csv_response
from app.errors import Invalid, Problems
from app.extensions import db
from app.grids import imports, services, workers
from app.grids.forms import (
    AssignForm,
    GridEditForm,
    GridForm,
    HouseholdEditForm,
    HouseholdForm,
    ImportForm,
    MemberForm,
    StreetForm,
)
from app.grids.models import Grid
from app.models import Role
from app.uow import form_action

bp = Blueprint("grids", __name__, template_folder="templates")
worker_bp = Blueprint("grid_worker", __name__, template_folder="templates")
worker_required = roles_required(Role.GRID_WORKER)
NOT_FOUND = (404,)


def _user():
    return current_user._get_current_object()


def _posted(form) -> bool:
    """The form came with its CSRF token (other fields are the services' to check)."""
    form.validate_on_submit()
    token = getattr(form, "csrf_token", None)  # none when CSRF protection is off (tests)
    return request.method == "POST" and not (token is not None and token.errors)


def _grid_choices(grids: list[Grid], *, none_label=None, tops_only=False, live_only=True):
    choices = [("", none_label)] if none_label is not None else []
    for grid in grids:
        if (tops_only and grid.is_micro) or (live_only and not grid.live):
            continue
        label = f"{grid.code} · {grid.label}"
        choices.append((str(grid.id), label))
    return choices


# --- the tree ----------------------------------------------------------------------------------

@bp.route("/official/grids")
@official_required
def index():
    """Streets with their communities (and the communities not yet under a street)."""
    return render_template("grids/index.html", nodes=services.tree(db.session))


def _render_community(community_id: int, *, street_form=None, grid_form=None, status: int = 200):
    community = services.get_community(db.session, community_id)
    grids = services.grids_in(db.session, community.id)
    street = db.session.get(services.Street, community.street_id) if community.street_id else None
    if street_form is None:
        street_form = StreetForm(formdata=None, street_name=street.name if street else "",
                                 district=street.district if street else community.district)
    grid_form = grid_form or GridForm(formdata=None)
    grid_form.parent_id.choices = _grid_choices(grids, none_label=_("— none: a grid of the community —"),
                                                tops_only=True)
    return render_template("grids/community.html", community=community, street=street, grids=grids,
                           counts=services.household_counts(db.session, [g.id for g in grids]),
                           street_form=street_form, grid_form=grid_form), status


@bp.route("/official/grids/communities/<int:community_id>")
@official_required
def community(community_id: int):
    """A community's street, its grids and micro-grids, and the form to add one."""
    return _render_community(community_id)


@bp.route("/official/grids/communities/<int:community_id>/street", methods=["POST"])
@official_required
def place_community(community_id: int):
    form = StreetForm()
    if not _posted(form):
        return _render_community(community_id, street_form=form, status=422)
    with form_action(form, lambda status: _render_community(community_id, street_form=form, status=status),
                     reraise=NOT_FOUND):
        community = services.get_community(db.session, community_id)
        street = services.place_community(db.session, _user(), community, street_name=form.street_name.data,
                                          district=form.district.data)
    flash(_("%(community)s is under %(street)s.", community=community.name, street=street.name), "success")
    return redirect(url_for("grids.community", community_id=community_id))


@bp.route("/official/grids/communities/<int:community_id>/grids", methods=["POST"])
@official_required
def create_grid(community_id: int):
    """Add a grid (or, naming its grid, a micro-grid): to its page; 422 with every mistake."""
    form = GridForm()
    if not _posted(form):
        return _render_community(community_id, grid_form=form, status=422)
    with form_action(form, lambda status: _render_community(community_id, grid_form=form, status=status),
                     reraise=NOT_FOUND):
        community = services.get_community(db.session, community_id)
        grid = services.create_grid(db.session, _user(), community, code=form.code.data, name=form.name.data,
                                    parent_id=form.parent_id.data)
    flash(_("%(name)s is added.", name=grid.name), "success")
    return redirect(url_for("grids.grid", grid_id=grid.id))


def _render_grid(grid_id: int, *, edit_form=None, household_form=None, status: int = 200):
    grid = services.get_grid(db.session, grid_id)
    siblings = services.grids_in(db.session, grid.community_id)
    edit_form = edit_form or GridEditForm(formdata=None, name=grid.name, parent_id=grid.parent_id)
    edit_form.parent_id.choices = _grid_choices([g for g in siblings if g.id != grid.id], tops_only=True)
    households = services.households_in(db.session, grid)
    member_counts = {h.id: len(services.members(db.session, h.id)) for h in households}
    return render_template(
        "grids/grid.html", grid=grid, micro_grids=services.micro_grids(db.session, grid.id),
        households=households, member_counts=member_counts,
        counts=services.household_counts(db.session, [g.id for g in siblings]),
        edit_form=edit_form, household_form=household_form or HouseholdForm(formdata=None),
        empty_form=EmptyForm(),
        assignments=[a for a in workers.assignments(db.session, current_on=today()) if a.grid_id == grid.id],
    ), status


@bp.route("/official/grids/<int:grid_id>")
@official_required
def grid(grid_id: int):
    """A grid or micro-grid: rename (a micro-grid: move), retire; its households; add one."""
    return _render_grid(grid_id)


@bp.route("/official/grids/<int:grid_id>", methods=["POST"])
@official_required
def edit_grid(grid_id: int):
    form = GridEditForm()
    if not _posted(form):
        return _render_grid(grid_id, edit_form=form, status=422)
    with form_action(form, lambda status: _render_grid(grid_id, edit_form=form, status=status), reraise=NOT_FOUND):
        grid = services.get_grid(db.session, grid_id)
        services.edit_grid(db.session, _user(), grid, name=form.name.data, parent_id=form.parent_id.data)
    flash(_("The grid is saved."), "success")
    return redirect(url_for("grids.grid", grid_id=grid_id))


@bp.route("/official/grids/<int:grid_id>/retire", methods=["POST"])
@official_required
def retire_grid(grid_id: int):
    form = EmptyForm()
    if not _posted(form):
        return _render_grid(grid_id, status=422)
    with form_action(None, lambda status: _render_grid(grid_id, status=status), reraise=NOT_FOUND):
        grid = services.retire_grid(db.session, _user(), services.get_grid(db.session, grid_id))
    flash(_("%(name)s is retired.", name=grid.name), "success")
    return redirect(url_for("grids.grid", grid_id=grid_id))


@bp.route("/official/grids/<int:grid_id>/households", methods=["POST"])
@official_required
def create_household(grid_id: int):
    form = HouseholdForm()
    if not _posted(form):
        return _render_grid(grid_id, household_form=form, status=422)
    with form_action(form, lambda status: _render_grid(grid_id, household_form=form, status=status),
                     reraise=NOT_FOUND):
        household = services.create_household(db.session, _user(), services.get_grid(db.session, grid_id),
                                              code=form.code.data, address=form.address.data)
    flash(_("Household %(code)s is added. Put its residents in it below.", code=household.code), "success")
    return redirect(url_for("grids.household", household_id=household.id))


# --- households ----------------------------------------------------------------------------------

def _render_household(household_id: int, *, edit_form=None, member_form=None, status: int = 200):
    household = services.get_household(db.session, household_id)
    edit_form = edit_form or HouseholdEditForm(formdata=None, address=household.address, grid_id=household.grid_id)
    edit_form.grid_id.choices = _grid_choices(services.grids_in(db.session, household.community_id))
    return render_template("grids/household.html", household=household,
                           members=services.members(db.session, household.id), edit_form=edit_form,
                           member_form=member_form or MemberForm(formdata=None), empty_form=EmptyForm()), status


@bp.route("/official/grids/households/<int:household_id>")
@official_required
def household(household_id: int):
    """A household: address and grid (move it), its residents (add by phone, take out), retire."""
    return _render_household(household_id)


@bp.route("/official/grids/households/<int:household_id>", methods=["POST"])
@official_required
def edit_household(household_id: int):
    form = HouseholdEditForm()
    if not _posted(form):
        return _render_household(household_id, edit_form=form, status=422)
    with form_action(form, lambda status: _render_household(household_id, edit_form=form, status=status),
                     reraise=NOT_FOUND):
        services.edit_household(db.session, _user(), services.get_household(db.session, household_id),
                                address=form.address.data, grid_id=form.grid_id.data)
    flash(_("The household is saved."), "success")
    return redirect(url_for("grids.household", household_id=household_id))


@bp.route("/official/grids/households/<int:household_id>/members", methods=["POST"])
@official_required
def add_member(household_id: int):
    form = MemberForm()
    if not _posted(form):
        return _render_household(household_id, member_form=form, status=422)
    with form_action(form, lambda status: _render_household(household_id, member_form=form, status=status),
                     reraise=NOT_FOUND):
        resident = services.add_member(db.session, _user(), services.get_household(db.session, household_id),
                                       form.phone.data)
    flash(_("%(name)s is in this household.", name=resident.name), "success")
    return redirect(url_for("grids.household", household_id=household_id))


@bp.route("/official/grids/households/<int:household_id>/members/<int:user_id>/remove", methods=["POST"])
@official_required
def remove_member(household_id: int, user_id: int):
    form = EmptyForm()
    if not _posted(form):
        return _render_household(household_id, status=422)
    with form_action(None, lambda status: _render_household(household_id, status=status), reraise=NOT_FOUND):
        resident = services.remove_member(db.session, _user(), services.get_household(db.session, household_id),
                                          user_id)
    flash(_("%(name)s is no longer in this household.", name=resident.name), "success")
    return redirect(url_for("grids.household", household_id=household_id))


@bp.route("/official/grids/households/<int:household_id>/retire", methods=["POST"])
@official_required
def retire_household(household_id: int):
    form = EmptyForm()
    if not _posted(form):
        return _render_household(household_id, status=422)
    with form_action(None, lambda status: _render_household(household_id, status=status), reraise=NOT_FOUND):
        services.retire_household(db.session, _user(), services.get_household(db.session, household_id))
    flash(_("The household is retired."), "success")
    return redirect(url_for("grids.household", household_id=household_id))


# --- CSV import ----------------------------------------------------------------------------------

def _render_import(form=None, report=None, status: int = 200):
    return render_template("grids/import.html", form=form or ImportForm(formdata=None), report=report,
                           columns=imports.COLUMNS), status


@bp.route("/official/grids/import", methods=["GET", "POST"])
@official_required
def import_csv():
    """GET: the upload form, the columns and the templates.  POST: import; the report lists
    every rejected row (line, column, message); the good rows are written."""
    form = ImportForm()
    if request.method == "GET":
        return _render_import()
    if not _posted(form):
        return _render_import(form, status=422)
    kind = form.kind.data if form.kind.data in imports.COLUMNS else "households"
    started = time.perf_counter()
    with form_action(form, lambda status: _render_import(form, status=status)):
        file = request.files.get("file")
        if file is None or not file.filename:
            raise Invalid(_("Choose a CSV file."), field="file")
        data = file.read(imports.MAX_BYTES + 1)
        run = imports.import_households if kind == "households" else imports.import_grids
        report = run(db.session, _user(), data)
    seconds = time.perf_counter() - started
    flash(_("%(rows)d rows read: %(created)d added, %(updated)d updated, %(unchanged)d unchanged, "
            "%(rejected)d rejected (%(seconds).1f s).", rows=report.rows, created=report.created,
            updated=report.updated, unchanged=report.unchanged, rejected=report.rejected, seconds=seconds),
          "error" if report.errors else "success")
    return _render_import(ImportForm(formdata=None, kind=kind), report=report)


@bp.route("/official/grids/import/<any(grids,households):kind>-template.csv")
@official_required
def import_template(kind: str):
    """The template of a file to import: its header and two example rows."""
    header, rows = imports.template_rows(kind)
    return csv_response(f"{kind}-template.csv", header, rows)


# --- grid workers: assignments (officials) -------------------------------------------------------

def _render_assignments(form=None, status: int = 200):
    grids = [g for g in db.session.scalars(db.select(Grid).order_by(Grid.community_id, Grid.code)) if g.live]
    form = form or AssignForm(formdata=None, valid_from=today())
    form.grid_id.choices = [("", _("— choose a grid —"))] + [
        (str(g.id), f"{g.community.name} · {g.code} · {g.label}") for g in grids]
    return render_template("grids/assignments.html", form=form, empty_form=EmptyForm(), today=today(),
                           assignments=workers.assignments(db.session, current_on=today())), status


@bp.route("/official/grid-workers")
@official_required
def assignments():
    """The current and coming assignments of grid workers, and the form to assign one."""
    return _render_assignments()


@bp.route("/official/grid-workers", methods=["POST"])
@official_required
def assign():
    form = AssignForm()
    if not _posted(form):
        return _render_assignments(form, 422)
    with form_action(form, lambda status: _render_assignments(form, status)):
        known = Problems()
        for name in ("valid_from", "valid_until"):  # a date that is not one: its own message, once
            for message in getattr(form, name).errors:
                known.add(message, field=name)
            getattr(form, name).errors = []
        assignment = workers.assign(db.session, _user(), phone=form.phone.data, grid_id=form.grid_id.data,
                                    valid_from=form.valid_from.data, valid_until=form.valid_until.data,
                                    known=known)
    flash(_("%(name)s is assigned to %(grid)s.", name=assignment.user.name, grid=assignment.grid.name), "success")
    return redirect(url_for("grids.assignments"))


@bp.route("/official/grid-workers/<int:assignment_id>/end", methods=["POST"])
@official_required
def end_assignment(assignment_id: int):
    """End an assignment today (one that has not begun ends on its first day)."""
    form = EmptyForm()
    if not _posted(form):
        return _render_assignments(status=422)
    with form_action(None, lambda status: _render_assignments(status=status), reraise=NOT_FOUND):
        workers.end_assignment(db.session, _user(), workers.get_assignment(db.session, assignment_id))
    flash(_("The assignment ends today."), "success")
    return redirect(url_for("grids.assignments"))


# --- the grid worker's own pages -----------------------------------------------------------------

@worker_bp.route("/grid-worker/residents")
@worker_required
def residents():
    """The residents of the worker's grids today (names, household, masked phone)."""
    at = now()
    return render_template("grids/worker_residents.html", grids=workers.grids_of(db.session, _user(), at),
                           rows=workers.residents_of(db.session, _user(), at))


@worker_bp.route("/grid-worker/residents/<int:resident_id>")
@worker_required
def resident(resident_id: int):
    """One resident of the worker's grids; anyone else's is a 404."""
    row = workers.resident_for(db.session, _user(), resident_id, now())
    return render_template("grids/worker_resident.html", row=row,
                           members=[m for m in services.members(db.session, row.household.id)
                                    if m.id != row.resident.id])
