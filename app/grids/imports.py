"""CSV import of grids and of households, with a per-row error report.

The file is UTF-8 CSV (with or without the byte-order mark Excel writes), its header
exactly the documented columns (any order).  A file that is not such a CSV, or whose
columns are wrong, is refused with one message and nothing is written.  Otherwise every
row is validated first (against the database, read once, and against the rows before it:
the same code twice in a file is an error on the later row); a bad row rejects nothing
else.  The good rows are then written in batches — one multi-row INSERT for the new ones,
one executemany UPDATE for the changed ones — with one audit event each, so a file of
20,000 households imports in seconds.  The key is the code: importing the same file again
creates nothing (each row is "unchanged"), and a row whose code exists updates it.

Columns
- grids: ``community_code, grid_code, grid_name, parent_grid_code`` (empty for a grid;
  a micro-grid names its grid's code);
- households: ``community_code, household_code, address, grid_code, micro_grid_code``
  (micro-grid optional).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.audit import AuditEvent
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, Problems
from app.grids.models import Grid, Household
from app.grids.services import check_address, check_code, check_name
from app.models import Community, User

GRID_COLUMNS = ("community_code", "grid_code", "grid_name", "parent_grid_code")
HOUSEHOLD_COLUMNS = ("community_code", "household_code", "address", "grid_code", "micro_grid_code")
COLUMNS = {"grids": GRID_COLUMNS, "households": HOUSEHOLD_COLUMNS}
TEMPLATES = {
    "grids": [("zichuan-chengli", "CL-01", "第一网格", ""), ("zichuan-chengli", "CL-01-A", "第一网格一号楼", "CL-01")],
    "households": [("zichuan-chengli", "CL-0101-101", "般阳路12号1号楼1单元101室", "CL-01", "CL-01-A"),
                   ("zichuan-chengli", "CL-0101-102", "般阳路12号1号楼1单元102室", "CL-01", "")],
}
MAX_BYTES = 8_000_000
MAX_ROWS = 50_000
BATCH = 2_000
NOT_CSV = _l("This is not a CSV file. In the spreadsheet choose “Save as” → “CSV UTF-8 (comma delimited)”.")


@dataclass
class RowError:
    row: int  # the line of the file (the header is line 1)
    column: str | None
    message: str


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({error.row for error in self.errors})


def read_rows(data: bytes, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV whose header is exactly ``columns``; Invalid (on ``file``) otherwise."""
    if not data or not data.strip():
        raise Invalid(_l("The file is empty."), field="file")
    if len(data) > MAX_BYTES:
        raise Invalid(_l("The file is too large (8 MB at most): split it."), field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(NOT_CSV, field="file") from None
    if "\x00" in text:
        raise Invalid(NOT_CSV, field="file")
    if not text.strip():  # nothing but a byte-order mark
        raise Invalid(_l("The file is empty."), field="file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
        missing = [c for c in columns if c not in header]
        unknown = [c for c in header if c not in columns]
        if missing or unknown or len(set(header)) != len(header):
            raise Invalid(_l("The first line must name the columns %(columns)s (in any order). "
                             "Missing: %(missing)s. Not known: %(unknown)s.", columns=", ".join(columns),
                             missing=", ".join(missing) or "—", unknown=", ".join(unknown) or "—"), field="file")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise Invalid(_l("At most %(n)d rows per file: split it.", n=MAX_ROWS), field="file")
            line = reader.line_num
            if len(cells) != len(header):
                rows.append((line, None))
                continue
            rows.append((line, {name: cell.strip() for name, cell in zip(header, cells)}))
    except csv.Error:
        raise Invalid(NOT_CSV, field="file") from None
    if not rows:
        raise Invalid(_l("The file has its header but no rows."), field="file")
    return rows


def _row_problems(report: ImportReport, line: int, problems: Problems) -> None:
    for one in problems.errors:
        report.errors.append(RowError(line, one.field, str(one.message)))


def _cells_error(report: ImportReport, line: int, count: int) -> None:
    report.errors.append(RowError(line, None, str(_l("This row has a different number of cells than the "
                                                     "header (%(n)d).", n=count))))


def _communities(session: Session, rows) -> dict[str, Community]:
    codes = {row["community_code"] for _line, row in rows if row}
    if not codes:
        return {}
    return {c.code: c for c in session.scalars(sa.select(Community).where(Community.code.in_(codes)))}


def _community(communities, row, problems: Problems) -> Community | None:
    code = row["community_code"]
    if not code:
        problems.add(_l("Enter the community code."), field="community_code")
        return None
    community = communities.get(code)
    if community is None:
        problems.add(_l("No community has the code %(code)s.", code=code), field="community_code")
    return community


def _official(actor: User) -> None:
    if not actor.is_official:
        raise Forbidden(_l("Only officials manage the grids."))


# --- grids ------------------------------------------------------------------------------------

def import_grids(session: Session, official: User, data: bytes) -> ImportReport:
    """Create or rename the grids and micro-grids of the file (grids first, so a micro-grid
    may name a grid made by an earlier row of the same file)."""
    _official(official)
    rows = read_rows(data, GRID_COLUMNS)
    report = ImportReport("grids", rows=len(rows))
    communities = _communities(session, rows)
    grids = session.scalars(sa.select(Grid).where(
        Grid.community_id.in_([c.id for c in communities.values()]))).all() if communities else []
    tops = {(g.community_id, g.code): g for g in grids if g.parent_id is None}
    micros = {(g.parent_id, g.code): g for g in grids if g.parent_id is not None}
    names = {(g.community_id, g.parent_id, g.name): g for g in grids}
    seen: dict[tuple, int] = {}
    ordered = sorted(rows, key=lambda item: (bool(item[1] and item[1]["parent_grid_code"]), item[0]))
    for line, row in ordered:
        if row is None:
            _cells_error(report, line, len(GRID_COLUMNS))
            continue
        problems = Problems()
        community = _community(communities, row, problems)
        code = check_code(row["grid_code"], problems, "grid_code")
        name = check_name(row["grid_name"], problems, "grid_name")
        parent_code = row["parent_grid_code"]
        parent = None
        if parent_code and community is not None:
            parent = tops.get((community.id, parent_code))
            if parent is None:
                problems.add(_l("No grid %(code)s in this community (a micro-grid names its grid).",
                                code=parent_code), field="parent_grid_code")
            elif not parent.live:
                problems.add(_l("That grid is retired: nothing new goes into it."), field="parent_grid_code")
        if problems or community is None:
            _row_problems(report, line, problems)
            continue
        parent_id = parent.id if parent is not None else None
        key = (community.id, parent_id, code)
        if key in seen:
            report.errors.append(RowError(line, "grid_code", str(_l("The same grid is on line %(line)d.",
                                                                     line=seen[key]))))
            continue
        seen[key] = line
        existing = micros.get((parent_id, code)) if parent_id else tops.get((community.id, code))
        holder = names.get((community.id, parent_id, name))
        if holder is not None and holder is not existing:
            report.errors.append(RowError(line, "grid_name", str(_l("Another grid here is called %(name)s.",
                                                                     name=name))))
            continue
        if existing is not None and not existing.live:
            report.errors.append(RowError(line, "grid_code", str(_l("This grid is retired."))))
            continue
        if existing is None:
            grid = Grid(community_id=community.id, parent_id=parent_id, code=code, name=name)
            session.add(grid)
            session.flush()
            (micros if parent_id else tops)[(parent_id, code) if parent_id else (community.id, code)] = grid
            names[(community.id, parent_id, name)] = grid
            audit.record(session, actor=official, action="grid.created", object_type="grid", object_id=grid.id,
                         after={"code": code, "name": name, "parent_id": parent_id, "source": "csv"})
            report.created += 1
        elif existing.name != name:
            names.pop((community.id, parent_id, existing.name), None)
            before = existing.name
            existing.name = name
            names[(community.id, parent_id, name)] = existing
            session.flush()
            audit.record(session, actor=official, action="grid.renamed", object_type="grid",
                         object_id=existing.id, before={"name": before}, after={"name": name, "source": "csv"})
            report.updated += 1
        else:
            report.unchanged += 1
    report.errors.sort(key=lambda e: e.row)
    return report


# --- households ---------------------------------------------------------------------------------

def import_households(session: Session, official: User, data: bytes) -> ImportReport:
    """Create the households of the file, or move/correct the ones whose code exists."""
    _official(official)
    rows = read_rows(data, HOUSEHOLD_COLUMNS)
    report = ImportReport("households", rows=len(rows))
    communities = _communities(session, rows)
    community_ids = [c.id for c in communities.values()]
    tops, micros, existing = {}, {}, {}
    if community_ids:
        for grid in session.execute(sa.select(Grid.id, Grid.community_id, Grid.parent_id, Grid.code,
                                              Grid.retired_at).where(Grid.community_id.in_(community_ids))):
            if grid.parent_id is None:
                tops[(grid.community_id, grid.code)] = grid
            else:
                micros[(grid.parent_id, grid.code)] = grid
        for household in session.execute(sa.select(Household.id, Household.community_id, Household.code,
                                                   Household.address, Household.grid_id, Household.retired_at)
                                         .where(Household.community_id.in_(community_ids))):
            existing[(household.community_id, household.code)] = household
    seen: dict[tuple, int] = {}
    inserts, updates = [], []
    for line, row in rows:
        if row is None:
            _cells_error(report, line, len(HOUSEHOLD_COLUMNS))
            continue
        problems = Problems()
        community = _community(communities, row, problems)
        code = check_code(row["household_code"], problems, "household_code")
        address = check_address(row["address"], problems)
        target = None
        if not row["grid_code"]:
            problems.add(_l("Enter the grid code."), field="grid_code")
        elif community is not None:
            grid = tops.get((community.id, row["grid_code"]))
            if grid is None:
                problems.add(_l("No grid %(code)s in this community.", code=row["grid_code"]), field="grid_code")
            elif grid.retired_at is not None:
                problems.add(_l("That grid is retired: nothing new goes into it."), field="grid_code")
            else:
                target = grid
                if row["micro_grid_code"]:
                    micro = micros.get((grid.id, row["micro_grid_code"]))
                    if micro is None:
                        target = None
                        problems.add(_l("No micro-grid %(code)s in grid %(grid)s.", code=row["micro_grid_code"],
                                        grid=grid.code), field="micro_grid_code")
                    elif micro.retired_at is not None:
                        target = None
                        problems.add(_l("That grid is retired: nothing new goes into it."), field="micro_grid_code")
                    else:
                        target = micro
        if problems or community is None or target is None:
            _row_problems(report, line, problems)
            continue
        key = (community.id, code)
        if key in seen:
            report.errors.append(RowError(line, "household_code", str(_l("The same household is on line %(line)d.",
                                                                         line=seen[key]))))
            continue
        seen[key] = line
        old = existing.get(key)
        if old is None:
            inserts.append({"community_id": community.id, "grid_id": target.id, "code": code, "address": address})
        elif old.retired_at is not None:
            report.errors.append(RowError(line, "household_code", str(_l("This household is retired."))))
        elif old.address == address and old.grid_id == target.id:
            report.unchanged += 1
        else:
            updates.append(({"id": old.id, "address": address, "grid_id": target.id},
                            {"address": old.address, "grid_id": old.grid_id}))
    report.errors.sort(key=lambda e: e.row)
    _write_households(session, official, inserts, updates)
    report.created, report.updated = len(inserts), len(updates)
    return report


def _write_households(session: Session, official: User, inserts: list[dict], updates: list[tuple]) -> None:
    """The batch writes: new households (multi-row INSERT … RETURNING), changed ones
    (executemany UPDATE by primary key), and an audit event for each."""
    at = now()
    events = []
    try:
        with session.begin_nested():
            for start in range(0, len(inserts), BATCH):
                chunk = inserts[start:start + BATCH]
                made = session.execute(sa.insert(Household).returning(Household.id, sort_by_parameter_order=True),
                                       [{**values, "created_at": at} for values in chunk]).scalars().all()
                events.extend({"at": at, "actor_id": official.id, "action": "household.created",
                               "object_type": "household", "object_id": new_id, "before": None,
                               "after": {**values, "source": "csv"}, "reason": None}
                              for new_id, values in zip(made, chunk))
            for start in range(0, len(updates), BATCH):
                chunk = updates[start:start + BATCH]
                session.execute(sa.update(Household), [after for after, _before in chunk])
                events.extend({"at": at, "actor_id": official.id,
                               "action": "household.moved" if before["grid_id"] != after["grid_id"]
                               else "household.edited", "object_type": "household", "object_id": after["id"],
                               "before": before, "after": {"address": after["address"], "grid_id": after["grid_id"],
                                                           "source": "csv"}, "reason": None}
                              for after, before in chunk)
            for start in range(0, len(events), BATCH):
                session.execute(sa.insert(AuditEvent), events[start:start + BATCH])
    except sa.exc.IntegrityError:
        raise Conflict(_l("Someone changed these households while the file was imported; nothing was "
                          "written. Import the file again.")) from None
    if updates:
        session.expire_all()


def template_rows(kind: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    return COLUMNS[kind], TEMPLATES[kind]
