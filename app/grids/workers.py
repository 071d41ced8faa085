"""Grid workers (网格员): assigned by officials to grids for a period; they serve the
residents of those grids only.

- :func:`grids_of` — the grids a worker is assigned to on the local day of ``at``;
  a grid's micro-grids come with it (:func:`covered_grid_ids`);
- :func:`may_act_for` — whether a worker may act for a resident at ``at``: the resident's
  live household lies in one of the worker's grids that day.  Later code that books,
  cancels or confirms on a resident's behalf asks this one function;
- :func:`resident_for` — a resident of the worker's grids, else NotFound (the page is a
  404 for anyone else's resident: a worker does not learn who lives outside their grids).

An assignment runs from ``valid_from`` to ``valid_until``, local days (Asia/Shanghai),
both inclusive; two assignments of one worker to one grid never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.auth.services import normalise_phone
from app.clock import local, today
from app.errors import Forbidden, IllegalTransition, NotFound, Problems
from app.grids.models import Grid, GridAssignment, Household
from app.models import Role, User


def _day(at: datetime | date) -> date:
    return at if not isinstance(at, datetime) else local(at).date()


def _live_on(day: date):
    return sa.and_(GridAssignment.valid_from <= day,
                   sa.or_(GridAssignment.valid_until.is_(None), GridAssignment.valid_until >= day))


def grids_of(session: Session, user: User, at: datetime | date) -> list[Grid]:
    """The live grids (or micro-grids) ``user`` is assigned to on the local day of ``at``."""
    if user is None or user.role != Role.GRID_WORKER or not user.is_active:
        return []
    return list(session.scalars(
        sa.select(Grid).join(GridAssignment, GridAssignment.grid_id == Grid.id)
        .where(GridAssignment.user_id == user.id, _live_on(_day(at)), Grid.retired_at.is_(None))
        .distinct().order_by(Grid.code)))


def covered_grid_ids(session: Session, user: User, at: datetime | date) -> set[int]:
    """The ids of the worker's grids and of their live micro-grids."""
    ids = {grid.id for grid in grids_of(session, user, at)}
    if ids:
        ids |= set(session.scalars(sa.select(Grid.id).where(Grid.parent_id.in_(ids), Grid.retired_at.is_(None))))
    return ids


def may_act_for(session: Session, worker: User, resident: User, at: datetime | date) -> bool:
    """Whether ``worker`` may act on ``resident``'s behalf at ``at``."""
    if resident is None or resident.role != Role.RESIDENT or resident.household_id is None:
        return False
    household = session.get(Household, resident.household_id)
    if household is None or not household.live:
        return False
    return household.grid_id in covered_grid_ids(session, worker, at)


@dataclass
class ResidentRow:
    resident: User
    household: Household
    grid: Grid

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.resident.phone)


def mask_phone(phone: str) -> str:
    """138****0001: enough to recognise a number, not to dial it."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def residents_of(session: Session, worker: User, at: datetime | date) -> list[ResidentRow]:
    """The residents of the worker's grids (their live households), by grid, household, name."""
    ids = covered_grid_ids(session, worker, at)
    if not ids:
        return []
    rows = session.execute(
        sa.select(User, Household, Grid).join(Household, Household.id == User.household_id)
        .join(Grid, Grid.id == Household.grid_id)
        .where(Household.grid_id.in_(ids), Household.retired_at.is_(None), User.role == Role.RESIDENT)
        .order_by(Grid.code, Household.code, User.name))
    return [ResidentRow(*row) for row in rows]


def resident_for(session: Session, worker: User, resident_id: int, at: datetime | date) -> ResidentRow:
    for row in residents_of(session, worker, at):
        if row.resident.id == resident_id:
            return row
    raise NotFound(_l("No such resident in your grids."))


# --- assignments (officials) -----------------------------------------------------------------

def _facts(assignment: GridAssignment) -> dict:
    return {"user_id": assignment.user_id, "grid_id": assignment.grid_id, "valid_from": assignment.valid_from,
            "valid_until": assignment.valid_until}


def assignments(session: Session, *, current_on: date | None = None) -> list[GridAssignment]:
    stmt = sa.select(GridAssignment).order_by(GridAssignment.valid_from.desc(), GridAssignment.id.desc())
    if current_on is not None:
        stmt = stmt.where(sa.or_(GridAssignment.valid_until.is_(None), GridAssignment.valid_until >= current_on))
    return list(session.scalars(stmt))


def assign(session: Session, official: User, *, phone: str, grid_id: int | None, valid_from: date | None,
           valid_until: date | None, known: Problems | None = None) -> GridAssignment:
    """Assign the grid worker with this phone to a grid for ``valid_from``…``valid_until``.

    ``known``: problems the form found already (a date that is not one); they are raised
    with the others, and a field at fault there is not reported again as missing."""
    if not official.is_official:
        raise Forbidden(_l("Only officials assign grid workers."))
    problems = Problems(list(known.errors) if known else [])
    already = {one.field for one in problems.errors}
    number = normalise_phone(phone or "")
    worker = session.scalar(sa.select(User).where(User.phone == number)) if number else None
    if not number:
        problems.add(_l("Enter the grid worker's mobile number."), field="phone")
    elif worker is None or worker.role != Role.GRID_WORKER:
        problems.add(_l("No grid-worker account has this mobile number (an administrator creates them)."),
                     field="phone")
    grid = session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None:
        problems.add(_l("Choose a grid."), field="grid_id")
    elif not grid.live:
        problems.add(_l("That grid is retired: nothing new goes into it."), field="grid_id")
    if valid_from is None and "valid_from" not in already:
        problems.add(_l("Enter the first day of the assignment."), field="valid_from")
    if valid_from and valid_until and valid_until < valid_from:
        problems.add(_l("The last day cannot come before the first."), field="valid_until")
    if not problems and worker is not None and valid_from is not None:
        overlapping = session.scalar(sa.select(GridAssignment.id).where(
            GridAssignment.user_id == worker.id, GridAssignment.grid_id == grid.id,
            sa.or_(GridAssignment.valid_until.is_(None), GridAssignment.valid_until >= valid_from),
            GridAssignment.valid_from <= (valid_until or date.max)))
        if overlapping:
            problems.add(_l("%(name)s is already assigned to this grid for part of that period.", name=worker.name),
                         field="valid_from")
    problems.raise_if_any()
    assignment = GridAssignment(user_id=worker.id, grid_id=grid.id, valid_from=valid_from, valid_until=valid_until,
                                assigned_by_id=official.id)
    session.add(assignment)
    session.flush()
    audit.record(session, actor=official, action="grid_assignment.created", object_type="grid_assignment",
                 object_id=assignment.id, after=_facts(assignment))
    return assignment


def get_assignment(session: Session, assignment_id: int) -> GridAssignment:
    found = session.get(GridAssignment, assignment_id)
    if found is None:
        raise NotFound(_l("No such assignment."))
    return found


def end_assignment(session: Session, official: User, assignment: GridAssignment, *,
                   last_day: date | None = None) -> GridAssignment:
    """End an assignment: its last day is ``last_day`` (default today; yesterday when it has
    not begun yet is refused — remove it by ending it on its first day)."""
    if not official.is_official:
        raise Forbidden(_l("Only officials assign grid workers."))
    day = last_day or today()
    if assignment.valid_until is not None and assignment.valid_until <= day:
        raise IllegalTransition(_l("This assignment has ended already."))
    if day < assignment.valid_from:
        day = assignment.valid_from
    before = _facts(assignment)
    assignment.valid_until = day
    session.flush()
    audit.record(session, actor=official, action="grid_assignment.ended", object_type="grid_assignment",
                 object_id=assignment.id, before=before, after=_facts(assignment))
    return assignment


def end_assignments_of_grid(session: Session, grid: Grid) -> int:
    """A retired grid's current and future assignments end today (a future one on its first day)."""
    day = today()
    found = session.scalars(sa.select(GridAssignment).where(
        GridAssignment.grid_id == grid.id,
        sa.or_(GridAssignment.valid_until.is_(None), GridAssignment.valid_until > day))).all()
    for assignment in found:
        assignment.valid_until = max(day, assignment.valid_from)
    return len(found)

