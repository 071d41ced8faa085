"""Officials manage the grid tree: streets over communities, grids and micro-grids,
households and who lives in them.

Each function takes a session and the acting official, checks every rule on its input
(all problems at once, :class:`~app.errors.Problems`), writes, flushes and records an
audit event in the same transaction; the view commits.  Uniqueness is checked first for a
clear message, and held by the database (a race loses with a Conflict, inside a savepoint
so the caller's transaction stays usable).  A retired grid or household keeps its row and
code; nothing new goes into it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.auth.services import normalise_phone
from app.clock import now
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound, Problems
from app.grids.models import Grid, Household, Street
from app.models import Community, Role, User

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MAX_NAME = 80
MAX_ADDRESS = 200


# --- checks --------------------------------------------------------------------------------

def _official(actor: User) -> None:
    if not actor.is_official:
        raise Forbidden(_l("Only officials manage the grids."))


def check_code(value: str | None, problems: Problems, field_name: str = "code") -> str:
    code = (value or "").strip()
    if not code:
        problems.add(_l("Enter a code."), field=field_name)
    elif not CODE_RE.match(code):
        problems.add(_l("A code has up to 40 letters, digits, dots, dashes or underscores, no spaces."),
                     field=field_name)
    return code


def check_name(value: str | None, problems: Problems, field_name: str = "name") -> str:
    name = " ".join((value or "").split())
    if not name:
        problems.add(_l("Enter a name."), field=field_name)
    elif len(name) > MAX_NAME:
        problems.add(_l("A name has at most 80 characters."), field=field_name)
    return name


def check_address(value: str | None, problems: Problems, field_name: str = "address") -> str:
    address = " ".join((value or "").split())
    if not address:
        problems.add(_l("Enter the address."), field=field_name)
    elif len(address) > MAX_ADDRESS:
        problems.add(_l("An address has at most 200 characters."), field=field_name)
    return address


def _flush_unique(session: Session, message) -> None:
    """Flush in a savepoint: a unique index that a concurrent writer filled first is a Conflict."""
    try:
        with session.begin_nested():
            session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(message) from None


# --- reading -------------------------------------------------------------------------------

def get_community(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(_l("No such community."))
    return community


def get_grid(session: Session, grid_id: int) -> Grid:
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound(_l("No such grid."))
    return grid


def get_household(session: Session, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(_l("No such household."))
    return household


@dataclass
class StreetNode:
    street: Street | None  # None: the communities not yet placed under a street
    communities: list[Community] = field(default_factory=list)


def tree(session: Session) -> list[StreetNode]:
    """Streets (by district and name) with their communities; then the unplaced ones."""
    streets = session.scalars(sa.select(Street).order_by(Street.district, Street.name)).all()
    nodes = {s.id: StreetNode(s) for s in streets}
    loose = StreetNode(None)
    for community in session.scalars(sa.select(Community).order_by(Community.name)):
        nodes.get(community.street_id, loose).communities.append(community)
    return list(nodes.values()) + ([loose] if loose.communities else [])


def grids_in(session: Session, community_id: int) -> list[Grid]:
    """The community's grids and micro-grids, each grid followed by its micro-grids."""
    rows = session.scalars(sa.select(Grid).where(Grid.community_id == community_id)
                           .order_by(Grid.code)).all()
    tops = [g for g in rows if g.parent_id is None]
    ordered = []
    for top in tops:
        ordered.append(top)
        ordered.extend(g for g in rows if g.parent_id == top.id)
    return ordered


def household_counts(session: Session, grid_ids: list[int]) -> dict[int, int]:
    if not grid_ids:
        return {}
    rows = session.execute(sa.select(Household.grid_id, sa.func.count()).where(
        Household.grid_id.in_(grid_ids), Household.retired_at.is_(None)).group_by(Household.grid_id))
    return dict(rows.all())


def households_in(session: Session, grid: Grid) -> list[Household]:
    """The households of a grid and of its micro-grids (live first, by code)."""
    ids = [grid.id] + list(session.scalars(sa.select(Grid.id).where(Grid.parent_id == grid.id)))
    return list(session.scalars(sa.select(Household).where(Household.grid_id.in_(ids))
                                .order_by(Household.retired_at.is_not(None), Household.code)))


def members(session: Session, household_id: int) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.household_id == household_id).order_by(User.name)))


def micro_grids(session: Session, grid_id: int) -> list[Grid]:
    return list(session.scalars(sa.select(Grid).where(Grid.parent_id == grid_id).order_by(Grid.code)))


# --- streets -------------------------------------------------------------------------------

def place_community(session: Session, official: User, community: Community, *, street_name: str,
                    district: str) -> Street:
    """Put ``community`` under the street ``street_name`` of ``district`` (made if new)."""
    _official(official)
    problems = Problems()
    name = check_name(street_name, problems, "street_name")
    district = check_name(district, problems, "district")
    problems.raise_if_any()
    street = session.scalar(sa.select(Street).where(Street.district == district, Street.name == name))
    if street is None:
        street = Street(code=f"street-{secrets.token_hex(4)}", name=name, district=district)
        session.add(street)
        _flush_unique(session, _l("That street was just added by someone else. Try again."))
        audit.record(session, actor=official, action="street.created", object_type="street", object_id=street.id,
                     after={"name": name, "district": district})
    before = community.street_id
    community.street_id = street.id
    session.flush()
    audit.record(session, actor=official, action="community.street_set", object_type="community",
                 object_id=community.id, before={"street_id": before}, after={"street_id": street.id})
    return street


# --- grids and micro-grids -------------------------------------------------------------------

def _same_name_or_code(session: Session, community_id: int, parent_id: int | None, *, code: str | None,
                       name: str | None, exclude: int | None, problems: Problems) -> None:
    siblings = sa.select(Grid).where(Grid.community_id == community_id,
                                     Grid.parent_id.is_(None) if parent_id is None else Grid.parent_id == parent_id)
    if exclude is not None:
        siblings = siblings.where(Grid.id != exclude)
    for other in session.scalars(siblings):
        if code is not None and other.code == code:
            problems.add(_l("Another grid here has the code %(code)s.", code=code), field="code")
        if name is not None and other.name == name:
            problems.add(_l("Another grid here is called %(name)s.", name=name), field="name")


def _parent(session: Session, community_id: int, parent_id: int | None, problems: Problems,
            field_name: str = "parent_id") -> Grid | None:
    if parent_id is None:
        return None
    parent = session.get(Grid, parent_id)
    if parent is None or parent.community_id != community_id:
        problems.add(_l("Choose a grid of this community."), field=field_name)
        return None
    if parent.is_micro:
        problems.add(_l("A micro-grid belongs to a grid, not to another micro-grid."), field=field_name)
    elif not parent.live:
        problems.add(_l("That grid is retired: nothing new goes into it."), field=field_name)
    return parent


def _grid_facts(grid: Grid) -> dict:
    return {"code": grid.code, "name": grid.name, "parent_id": grid.parent_id, "community_id": grid.community_id}


def create_grid(session: Session, official: User, community: Community, *, code: str, name: str,
                parent_id: int | None = None) -> Grid:
    """A grid of ``community`` or, with ``parent_id``, a micro-grid of that grid."""
    _official(official)
    problems = Problems()
    code, name = check_code(code, problems), check_name(name, problems)
    _parent(session, community.id, parent_id, problems)
    if not problems:
        _same_name_or_code(session, community.id, parent_id, code=code, name=name, exclude=None, problems=problems)
    problems.raise_if_any()
    grid = Grid(community_id=community.id, parent_id=parent_id, code=code, name=name)
    session.add(grid)
    _flush_unique(session, _l("A grid with this code or name was just added. Choose another."))
    audit.record(session, actor=official, action="grid.created", object_type="grid", object_id=grid.id,
                 after=_grid_facts(grid))
    return grid


def edit_grid(session: Session, official: User, grid: Grid, *, name: str, parent_id: int | None = None) -> Grid:
    """Rename a grid; a micro-grid may also move to another grid of its community."""
    _official(official)
    if not grid.live:
        raise IllegalTransition(_l("This grid is retired; it cannot be changed."))
    problems = Problems()
    name = check_name(name, problems)
    if grid.is_micro:
        if parent_id is None:
            problems.add(_l("Choose the grid this micro-grid belongs to."), field="parent_id")
        else:
            _parent(session, grid.community_id, parent_id, problems)
    else:
        parent_id = None
    if not problems:
        _same_name_or_code(session, grid.community_id, parent_id, code=grid.code if parent_id != grid.parent_id
                           else None, name=name, exclude=grid.id, problems=problems)
    problems.raise_if_any()
    before = _grid_facts(grid)
    grid.name, grid.parent_id = name, parent_id
    _flush_unique(session, _l("A grid with this code or name was just added. Choose another."))
    if before != _grid_facts(grid):
        action = "grid.moved" if before["parent_id"] != parent_id else "grid.renamed"
        audit.record(session, actor=official, action=action, object_type="grid", object_id=grid.id,
                     before=before, after=_grid_facts(grid))
    return grid


def retire_grid(session: Session, official: User, grid: Grid) -> Grid:
    """Retire a grid with no live household and no live micro-grid; its assignments end today."""
    _official(official)
    if not grid.live:
        raise IllegalTransition(_l("This grid is retired already."))
    problems = Problems()
    live_micro = session.scalar(sa.select(sa.func.count()).select_from(Grid).where(
        Grid.parent_id == grid.id, Grid.retired_at.is_(None)))
    if live_micro:
        problems.add(_l("Retire or move its %(n)d micro-grids first.", n=live_micro))
    live_households = session.scalar(sa.select(sa.func.count()).select_from(Household).where(
        Household.grid_id == grid.id, Household.retired_at.is_(None)))
    if live_households:
        problems.add(_l("Move or retire its %(n)d households first.", n=live_households))
    if problems:
        raise Conflict(problems.errors[0].message) if len(problems.errors) == 1 else problems
    grid.retired_at = now()
    from app.grids.workers import end_assignments_of_grid

    ended = end_assignments_of_grid(session, grid)
    session.flush()
    audit.record(session, actor=official, action="grid.retired", object_type="grid", object_id=grid.id,
                 before=_grid_facts(grid), after={"assignments_ended": ended})
    return grid


# --- households -----------------------------------------------------------------------------

def _household_facts(household: Household) -> dict:
    return {"code": household.code, "address": household.address, "grid_id": household.grid_id}


def _target_grid(session: Session, community_id: int, grid_id: int | None, problems: Problems,
                 field_name: str = "grid_id") -> Grid | None:
    grid = session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None or grid.community_id != community_id:
        problems.add(_l("Choose a grid or micro-grid of this community."), field=field_name)
        return None
    if not grid.live:
        problems.add(_l("That grid is retired: nothing new goes into it."), field=field_name)
    return grid


def create_household(session: Session, official: User, grid: Grid, *, code: str, address: str) -> Household:
    _official(official)
    problems = Problems()
    code, address = check_code(code, problems), check_address(address, problems)
    if not grid.live:
        problems.add(_l("That grid is retired: nothing new goes into it."))
    if code and session.scalar(sa.select(Household.id).where(Household.community_id == grid.community_id,
                                                            Household.code == code)):
        problems.add(_l("This community already has a household with the code %(code)s.", code=code), field="code")
    problems.raise_if_any()
    household = Household(community_id=grid.community_id, grid_id=grid.id, code=code, address=address)
    session.add(household)
    _flush_unique(session, _l("A household with this code was just added. Choose another."))
    audit.record(session, actor=official, action="household.created", object_type="household",
                 object_id=household.id, after=_household_facts(household))
    return household


def edit_household(session: Session, official: User, household: Household, *, address: str,
                   grid_id: int | None) -> Household:
    """Correct the address and/or move the household to another grid or micro-grid."""
    _official(official)
    if not household.live:
        raise IllegalTransition(_l("This household is retired; it cannot be changed."))
    problems = Problems()
    address = check_address(address, problems)
    if grid_id != household.grid_id:
        _target_grid(session, household.community_id, grid_id, problems)
    problems.raise_if_any()
    before = _household_facts(household)
    household.address, household.grid_id = address, grid_id
    session.flush()
    session.expire(household, ["grid"])
    if before != _household_facts(household):
        action = "household.moved" if before["grid_id"] != grid_id else "household.edited"
        audit.record(session, actor=official, action=action, object_type="household", object_id=household.id,
                     before=before, after=_household_facts(household))
    return household


def retire_household(session: Session, official: User, household: Household) -> Household:
    _official(official)
    if not household.live:
        raise IllegalTransition(_l("This household is retired already."))
    count = session.scalar(sa.select(sa.func.count()).select_from(User).where(User.household_id == household.id))
    if count:
        raise Conflict(_l("Take its %(n)d residents out of the household first.", n=count))
    household.retired_at = now()
    session.flush()
    audit.record(session, actor=official, action="household.retired", object_type="household",
                 object_id=household.id, before=_household_facts(household))
    return household


def add_member(session: Session, official: User, household: Household, phone: str) -> User:
    """Put the resident with this mobile number into ``household`` (of their own community)."""
    _official(official)
    if not household.live:
        raise IllegalTransition(_l("This household is retired: nobody joins it."))
    number = normalise_phone(phone or "")
    if not number:
        raise Invalid(_l("Enter the resident's mobile number."), field="phone")
    resident = session.scalar(sa.select(User).where(User.phone == number, User.role == Role.RESIDENT))
    if resident is None:
        raise Invalid(_l("No resident has this mobile number."), field="phone")
    if resident.community_id != household.community_id:
        raise Invalid(_l("This resident lives in another community: a household takes residents of its own."),
                      field="phone")
    if resident.household_id == household.id:
        raise Conflict(_l("This resident is in this household already."), field="phone")
    before = resident.household_id
    resident.household_id = household.id
    session.flush()
    audit.record(session, actor=official, action="household.member_added", object_type="household",
                 object_id=household.id, before={"household_id": before} if before else None,
                 after={"resident_id": resident.id})
    return resident


def remove_member(session: Session, official: User, household: Household, resident_id: int) -> User:
    _official(official)
    resident = session.get(User, resident_id)
    if resident is None or resident.role != Role.RESIDENT:
        raise NotFound(_l("No such resident."))
    if resident.household_id != household.id:
        raise Conflict(_l("This resident is not in this household (any more)."))
    resident.household_id = None
    session.flush()
    audit.record(session, actor=official, action="household.member_removed", object_type="household",
                 object_id=household.id, before={"resident_id": resident.id})
    return resident

