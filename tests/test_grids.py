"""The grid tree's rules, grid workers' scope, and the CSV import (bad rows reject nothing
else, wrong files nothing at all, re-import changes nothing), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.errors import Conflict, Invalid, NotFound, Problems
from app.extensions import db
from app.grids import imports, services, workers
from app.grids.models import Grid, Household
from app.models import Role, User
from tests import factories
from tests.conftest import START
from tests.grid_helpers import tree, worker_on

pytestmark = pytest.mark.usefixtures("english_messages")


def fields(error) -> set:
    return {one.field for one in getattr(error, "errors", None) or [error]}


def events(action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


# --- the tree -------------------------------------------------------------------------------

def test_codes_and_names_are_unique_within_the_parent_and_every_problem_is_told_at_once():
    t = tree()
    with pytest.raises(Problems) as caught:
        services.create_grid(db.session, t["official"], t["community"], code="G1", name="第一网格")
    assert fields(caught.value) == {"code", "name"}
    with pytest.raises(Problems) as caught:
        services.create_grid(db.session, t["official"], t["community"], code="bad code!", name="")
    assert fields(caught.value) == {"code", "name"}
    # The same code is fine under another parent and in another community.
    services.create_grid(db.session, t["official"], t["community"], code="G1", name="一号楼", parent_id=t["other"].id)
    services.create_grid(db.session, t["official"], factories.community(), code="G1", name="第一网格")
    assert events("grid.created") == 5


def test_a_micro_grid_is_one_level_deep_and_in_its_own_community():
    t = tree()
    with pytest.raises(Problems) as caught:
        services.create_grid(db.session, t["official"], t["community"], code="X", name="X", parent_id=t["micro"].id)
    assert "not to another micro-grid" in str(caught.value)
    elsewhere = services.create_grid(db.session, t["official"], factories.community(), code="E", name="E")
    with pytest.raises(Problems, match="grid of this community"):
        services.create_grid(db.session, t["official"], t["community"], code="X", name="X", parent_id=elsewhere.id)


def test_the_database_keeps_a_household_in_a_grid_of_its_own_community():
    t = tree()
    elsewhere = services.create_grid(db.session, t["official"], factories.community(), code="E", name="E")
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(Household(community_id=t["community"].id, grid_id=elsewhere.id, code="Z", address="Z"))
            db.session.flush()


def test_moving_renaming_and_retiring_follow_the_rules_and_are_audited():
    t = tree()
    official = t["official"]
    services.edit_grid(db.session, official, t["micro"], name="一号楼微网格", parent_id=t["other"].id)
    assert t["micro"].parent_id == t["other"].id and events("grid.moved") == 1
    services.edit_household(db.session, official, t["household"], address="般阳路12号102室", grid_id=t["grid"].id)
    assert events("household.moved") == 1
    with pytest.raises(Conflict, match="households first"):
        services.retire_grid(db.session, official, t["grid"])
    with pytest.raises(Conflict, match="residents out"):
        services.retire_household(db.session, official, t["household"])
    services.remove_member(db.session, official, t["household"], t["resident"].id)
    services.retire_household(db.session, official, t["household"])
    services.retire_grid(db.session, official, t["grid"])
    assert not t["grid"].live and events("grid.retired") == 1
    with pytest.raises(Problems, match="retired"):
        services.create_household(db.session, official, t["grid"], code="H9", address="地址")


def test_a_resident_joins_a_household_of_their_own_community_only():
    t = tree()
    stranger = factories.resident()
    with pytest.raises(Invalid, match="another community"):
        services.add_member(db.session, t["official"], t["household"], stranger.phone)
    with pytest.raises(Invalid, match="No resident"):
        services.add_member(db.session, t["official"], t["household"], "13000000000")
    with pytest.raises(Conflict):
        services.add_member(db.session, t["official"], t["household"], t["resident"].phone)
    assert events("household.member_added") == 1


def test_the_migration_placed_no_community_and_placing_one_makes_its_street():
    t = tree()
    street = services.place_community(db.session, t["official"], t["community"], street_name="般阳路街道",
                                      district="淄川区")
    again = services.place_community(db.session, t["official"], factories.community(), street_name="般阳路街道",
                                     district="淄川区")
    assert street.id == again.id and events("street.created") == 1 and events("community.street_set") == 2
    names = [node.street.name if node.street else None for node in services.tree(db.session)]
    assert "般阳路街道" in names


# --- grid workers ---------------------------------------------------------------------------

def test_a_grid_worker_sees_the_residents_of_their_grids_for_the_period_only():
    t = tree()
    mine = worker_on(t["grid"], t["official"], valid_until=date(2026, 11, 30))
    theirs = worker_on(t["other"], t["official"])
    at = START
    assert [g.id for g in workers.grids_of(db.session, mine, at)] == [t["grid"].id]
    assert [row.resident.id for row in workers.residents_of(db.session, mine, at)] == [t["resident"].id]
    assert workers.may_act_for(db.session, mine, t["resident"], at)
    assert not workers.may_act_for(db.session, theirs, t["resident"], at)
    assert workers.residents_of(db.session, theirs, at) == []
    with pytest.raises(NotFound):
        workers.resident_for(db.session, theirs, t["resident"].id, at)
    after = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 on 1 December: the period is over
    assert workers.grids_of(db.session, mine, after) == []
    assert not workers.may_act_for(db.session, mine, t["resident"], after)
    # Moved out of the worker's grid, the resident is no longer theirs.
    services.edit_household(db.session, t["official"], t["household"], address="别处", grid_id=t["other"].id)
    assert not workers.may_act_for(db.session, mine, t["resident"], at)
    assert workers.may_act_for(db.session, theirs, t["resident"], at)


def test_an_official_is_no_grid_worker_and_a_worker_acts_for_residents_only():
    t = tree()
    worker = worker_on(t["grid"], t["official"])
    assert workers.grids_of(db.session, t["official"], START) == []
    assert not workers.may_act_for(db.session, worker, worker, START)


def test_assigning_tells_every_problem_and_refuses_an_overlap():
    t = tree()
    resident = factories.resident(t["community"])
    with pytest.raises(Problems) as caught:
        workers.assign(db.session, t["official"], phone=resident.phone, grid_id=None, valid_from=date(2026, 11, 5),
                       valid_until=date(2026, 11, 1))
    assert fields(caught.value) == {"phone", "grid_id", "valid_until"}
    worker = worker_on(t["grid"], t["official"], valid_from=date(2026, 11, 1), valid_until=date(2026, 11, 30))
    with pytest.raises(Problems, match="already assigned"):
        workers.assign(db.session, t["official"], phone=worker.phone, grid_id=t["grid"].id,
                       valid_from=date(2026, 11, 20), valid_until=None)
    workers.assign(db.session, t["official"], phone=worker.phone, grid_id=t["grid"].id,
                   valid_from=date(2026, 12, 1), valid_until=None)
    assignment = workers.assignments(db.session)[-1]
    workers.end_assignment(db.session, t["official"], assignment)
    assert assignment.valid_until == date(2026, 11, 2) and events("grid_assignment.ended") == 1


# --- CSV import -----------------------------------------------------------------------------

def households_csv(*rows: str, bom: bool = False) -> bytes:
    text = "community_code,household_code,address,grid_code,micro_grid_code\r\n" + "".join(r + "\r\n" for r in rows)
    return (("\ufeff" if bom else "") + text).encode()


def test_a_bad_row_rejects_nothing_else_and_the_report_names_line_and_column():
    t = tree()
    code = t["community"].code
    data = households_csv(f"{code},H201,二号楼201室,G1,", f"{code},H202,二号楼202室,G9,",
                          "nowhere,H203,二号楼203室,G1,", f"{code},H204,,G1,G1-Z", f"{code},H205,二号楼205室,G1,G1-A",
                          f"{code},H201,重复,G1,", bom=True)
    report = imports.import_households(db.session, t["official"], data)
    assert (report.rows, report.created, report.rejected) == (6, 2, 4)
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "grid_code"), (4, "community_code"), (5, "address"), (5, "micro_grid_code"), (7, "household_code")]
    codes = set(db.session.scalars(sa.select(Household.code).where(Household.community_id == t["community"].id)))
    assert codes == {"H101", "H201", "H205"}
    assert events("household.created") == 3  # the tree's own one, and the two imported


def test_re_importing_changes_nothing_and_a_changed_row_updates_its_household():
    t = tree()
    code = t["community"].code
    data = households_csv(f"{code},H201,二号楼201室,G1,", f"{code},H101,般阳路12号101室,G1,G1-A")
    first = imports.import_households(db.session, t["official"], data)
    assert (first.created, first.updated, first.unchanged) == (1, 0, 1)
    second = imports.import_households(db.session, t["official"], data)
    assert (second.created, second.updated, second.unchanged, second.errors) == (0, 0, 2, [])
    moved = imports.import_households(db.session, t["official"], households_csv(f"{code},H201,二号楼201室,G2,"))
    assert moved.updated == 1 and events("household.moved") == 1
    assert db.session.scalar(sa.select(Household.grid_id).where(Household.code == "H201")) == t["other"].id


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV"),
    ("household,address\r\nH1,地址\r\n".encode(), "Missing: community_code"),
    ("community_code,household_code,address,grid_code,micro_grid_code,extra\r\n".encode(), "Not known: extra"),
    ("community_code,household_code,address,grid_code,micro_grid_code\r\n".encode(), "no rows"),
    ("community_code,household_code,address,grid_code,micro_grid_code\r\n".encode("utf-16"), "not a CSV"),
])
def test_a_file_that_is_not_our_csv_is_one_message_and_nothing_is_written(data, message):
    t = tree()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Household))
    with pytest.raises(Invalid, match=message) as caught:
        imports.import_households(db.session, t["official"], data)
    assert caught.value.field == "file"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == before


def test_grids_import_makes_grids_before_their_micro_grids_and_is_idempotent():
    t = tree()
    code = t["community"].code
    data = ("community_code,grid_code,grid_name,parent_grid_code\n"
            f"{code},G3-A,三号楼,G3\n{code},G3,第三网格,\n{code},G1,第一网格（新）,\n{code},G4,第二网格,\n"
            f"{code},G5,第五网格,G9\n").encode()
    report = imports.import_grids(db.session, t["official"], data)
    assert (report.created, report.updated) == (2, 1)
    assert [(e.row, e.column) for e in report.errors] == [(5, "grid_name"), (6, "parent_grid_code")]
    g3 = db.session.scalar(sa.select(Grid).where(Grid.code == "G3"))
    assert db.session.scalar(sa.select(Grid.parent_id).where(Grid.code == "G3-A")) == g3.id
    again = imports.import_grids(db.session, t["official"], data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_twenty_thousand_households_import_in_bounded_time(capsys):
    t = tree()
    code = t["community"].code
    rows = [f"{code},B{n:05d},幸福路{n}号,G1,{'G1-A' if n % 2 else ''}" for n in range(20_000)]
    data = households_csv(*rows)
    started = time.perf_counter()
    report = imports.import_households(db.session, t["official"], data)
    created = time.perf_counter() - started
    assert report.created == 20_000 and report.errors == []
    started = time.perf_counter()
    again = imports.import_households(db.session, t["official"], data)
    unchanged = time.perf_counter() - started
    assert again.unchanged == 20_000
    with capsys.disabled():
        print(f"\n20,000 households on {db.session.get_bind().dialect.name}: imported in {created:.2f} s, "
              f"re-imported (unchanged) in {unchanged:.2f} s")
    assert created < 30 and unchanged < 30
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "household.created")) == 20_001


def test_grid_worker_role_is_stored(db_session):
    worker = factories.user(Role.GRID_WORKER)
    db.session.expire_all()
    assert db.session.get(User, worker.id).is_grid_worker


def test_the_demo_places_the_residents_and_its_grid_worker_sees_only_her_grid():
    from app.grids.demo import WORKER_PHONE, load_demo
    from providers.demo import load_demo as load_people

    load_people(db.session)
    assert load_demo(db.session) is True
    assert load_demo(db.session) is False  # idempotent
    worker = db.session.scalar(sa.select(User).where(User.phone == WORKER_PHONE))
    names = {row.resident.name for row in workers.residents_of(db.session, worker, START)}
    assert names == {"王阿姨"}
    assert all(c.street_id for c in db.session.scalars(sa.select(services.Community)))
