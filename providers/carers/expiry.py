"""Qualifications that run out soon, for the provider's dashboard.

A carer whose required certificate has expired can no longer be assigned
(:mod:`providers.carers.assignment`), so the provider is warned 30 days ahead.
This module reads the roster only (no bookings), so the provider pages can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from providers.carers.models import Carer, CarerQualification

WARN_DAYS = 30


@dataclass(frozen=True)
class Expiring:
    carer: Carer
    qualification: CarerQualification
    expired: bool
    days_left: int


def expiring(session: Session, provider_id: int, today: date, days: int = WARN_DAYS) -> list[Expiring]:
    """Active carers' qualifications expired already or expiring within ``days`` of ``today``
    (an Asia/Shanghai day), soonest first."""
    rows = session.execute(
        sa.select(Carer, CarerQualification).join(CarerQualification, CarerQualification.carer_id == Carer.id)
        .where(Carer.provider_id == provider_id, Carer.active.is_(True),
               CarerQualification.expires_on <= today + timedelta(days=days))
        .order_by(CarerQualification.expires_on, Carer.name)
    )
    return [Expiring(carer, q, q.expires_on < today, (q.expires_on - today).days) for carer, q in rows]
