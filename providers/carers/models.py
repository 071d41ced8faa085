"""The provider's roster: carers (服务人员) and their qualifications.

A carer belongs to one provider.  The ID number is never stored in plain text
(:mod:`providers.carers.identity`): ``id_number_secret`` is its encryption,
``id_number_digest`` a keyed digest that a unique constraint uses so one person
is on a provider's roster once, and ``id_number_masked`` what every page shows.
A carer is deactivated, never deleted: past visits keep naming them.

A qualification is valid on a day up to and including ``expires_on`` (the date
printed on the certificate, an Asia/Shanghai day).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from providers.carers.kinds import QUALIFICATION_LABELS, QualificationKind


class Carer(db.Model):
    __tablename__ = "carer"
    __table_args__ = (
        # The same person (the same ID number) is on one provider's roster once.
        sa.UniqueConstraint("provider_id", "id_number_digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    phone: Mapped[str] = mapped_column(sa.String(20))
    id_number_secret: Mapped[str] = mapped_column(sa.Text)
    id_number_digest: Mapped[str] = mapped_column(sa.String(64))
    id_number_masked: Mapped[str] = mapped_column(sa.String(18))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    qualifications: Mapped[list[CarerQualification]] = relationship(
        back_populates="carer", order_by="CarerQualification.expires_on", cascade="all, delete-orphan"
    )

    @property
    def short_name(self) -> str:
        """What a resident sees: the family name and a title (王师傅), never the full name."""
        return str(_l("%(family)s (carer)", family=self.name[:1]))

    def valid_qualification(self, kind: QualificationKind, on: date) -> CarerQualification | None:
        for qualification in self.qualifications:
            if qualification.kind == kind and qualification.expires_on >= on:
                return qualification
        return None


class CarerQualification(db.Model):
    __tablename__ = "carer_qualification"

    id: Mapped[int] = mapped_column(primary_key=True)
    carer_id: Mapped[int] = mapped_column(sa.ForeignKey("carer.id"), index=True)
    kind: Mapped[QualificationKind] = mapped_column(enum_column(QualificationKind, "qualification_kind"))
    number: Mapped[str] = mapped_column(sa.String(40))
    expires_on: Mapped[date] = mapped_column(sa.Date)

    carer: Mapped[Carer] = relationship(back_populates="qualifications")

    @property
    def label(self) -> str:
        return str(QUALIFICATION_LABELS[self.kind])
