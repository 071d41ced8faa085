"""The grid tree of GB/T 34300-2017 (城乡社区网格化服务管理规范): street (街道) → community →
grid (网格) → optional micro-grid (微网格) → household (户), and the grid workers (网格员)
assigned to grids for a period.

Invariants, each held by the database where one row can say it:

- a street's code is unique; its name is unique within its district;
- a grid's code and its name are unique within its parent: a grid's within its community,
  a micro-grid's within its grid (partial unique indexes: a NULL parent would make a plain
  unique constraint useless);
- a micro-grid lies in the same community as its grid, and a household in a grid or
  micro-grid of its own community (composite foreign keys onto ``grid(id, community_id)``);
  a micro-grid's parent is a grid, not another micro-grid (the services; one level deep);
- a household's code is unique within its community; a resident (``User.household_id``)
  belongs to a household of their own community (the services: ``user_account`` is not
  rebuilt for a composite key);
- retiring keeps the row (codes stay reserved, history stays readable): ``retired_at``;
- a grid worker's assignment runs from ``valid_from`` to ``valid_until`` (local days,
  both inclusive; open-ended without one).  :func:`app.grids.workers.grids_of` reads it.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime
from app.extensions import db
from app.models import Community, User

TOP = "parent_id IS NULL"
MICRO = "parent_id IS NOT NULL"


class Street(db.Model):
    """A 街道 (or town, 镇): the level above communities."""

    __tablename__ = "street"
    __table_args__ = (sa.UniqueConstraint("district", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    district: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Grid(db.Model):
    """A grid of a community (``parent_id`` NULL) or a micro-grid of a grid."""

    __tablename__ = "grid"
    __table_args__ = (
        # The target of the composite keys below (a micro-grid, a household: same community).
        sa.UniqueConstraint("id", "community_id"),
        sa.ForeignKeyConstraint(["parent_id", "community_id"], ["grid.id", "grid.community_id"],
                                name="fk_grid_parent_same_community"),
        sa.Index("uq_grid_community_code", "community_id", "code", unique=True,
                 sqlite_where=sa.text(TOP), postgresql_where=sa.text(TOP)),
        sa.Index("uq_grid_community_name", "community_id", "name", unique=True,
                 sqlite_where=sa.text(TOP), postgresql_where=sa.text(TOP)),
        sa.Index("uq_grid_parent_code", "parent_id", "code", unique=True,
                 sqlite_where=sa.text(MICRO), postgresql_where=sa.text(MICRO)),
        sa.Index("uq_grid_parent_name", "parent_id", "name", unique=True,
                 sqlite_where=sa.text(MICRO), postgresql_where=sa.text(MICRO)),
        sa.Index("ix_grid_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column()
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    community: Mapped[Community] = relationship()
    parent: Mapped[Grid | None] = relationship(
        remote_side=[id], primaryjoin="Grid.parent_id == Grid.id", foreign_keys=[parent_id],
        overlaps="community")

    @property
    def is_micro(self) -> bool:
        return self.parent_id is not None

    @property
    def live(self) -> bool:
        return self.retired_at is None

    @property
    def label(self) -> str:
        return f"{self.parent.name} · {self.name}" if self.parent is not None else self.name


class Household(db.Model):
    """A 户: an address in a grid or micro-grid; its members are the residents naming it."""

    __tablename__ = "household"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "code"),
        sa.ForeignKeyConstraint(["grid_id", "community_id"], ["grid.id", "grid.community_id"],
                                name="fk_household_grid_same_community"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"))
    grid_id: Mapped[int] = mapped_column(index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    address: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    community: Mapped[Community] = relationship(overlaps="grid")
    grid: Mapped[Grid] = relationship(primaryjoin="Household.grid_id == Grid.id", foreign_keys=[grid_id],
                                      overlaps="community")

    @property
    def live(self) -> bool:
        return self.retired_at is None


class GridAssignment(db.Model):
    """A grid worker on a grid (its micro-grids included) from one local day to another."""

    __tablename__ = "grid_assignment"
    __table_args__ = (
        sa.CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="period_in_order"),
        sa.Index("ix_grid_assignment_user_id_valid_from", "user_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    assigned_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    grid: Mapped[Grid] = relationship()

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)
