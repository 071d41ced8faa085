"""Arrangements for the grid tests: a community with a grid, a micro-grid, a household
with a resident, a grid worker assigned to the grid."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from app.grids import services, workers
from app.models import Role
from tests import factories


def tree(community=None, official=None):
    community = community or factories.community()
    official = official or factories.official()
    grid = services.create_grid(db.session, official, community, code="G1", name="第一网格")
    micro = services.create_grid(db.session, official, community, code="G1-A", name="一号楼", parent_id=grid.id)
    other = services.create_grid(db.session, official, community, code="G2", name="第二网格")
    household = services.create_household(db.session, official, micro, code="H101", address="般阳路12号101室")
    resident = factories.resident(community)
    services.add_member(db.session, official, household, resident.phone)
    db.session.commit()
    return {"community": community, "official": official, "grid": grid, "micro": micro, "other": other,
            "household": household, "resident": resident}


def worker_on(grid, official, *, valid_from=date(2026, 10, 1), valid_until=None):
    worker = factories.user(Role.GRID_WORKER)
    workers.assign(db.session, official, phone=worker.phone, grid_id=grid.id, valid_from=valid_from,
                   valid_until=valid_until)
    db.session.commit()
    return worker
