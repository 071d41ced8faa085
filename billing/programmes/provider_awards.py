"""What a provider's staff see of their organisation's programme awards.

Only the caller's own provider's awards are ever selected (the provider comes
from the staff membership, never from the request), so there is nothing to
guess: another provider's award is simply not there.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.programmes.models import EntitlementUse, ProgrammeAward, PurchaseProgramme, UseStatus
from providers.models import Provider


@dataclass
class AwardSummary:
    award: ProgrammeAward
    visits_reserved: int  # accepted, not yet served
    visits_consumed: int  # served

    @property
    def programme(self) -> PurchaseProgramme:
        return self.award.programme


def awards_of(session: Session, provider: Provider) -> list[AwardSummary]:
    """The provider's awards, newest programme first, with visits reserved and consumed."""
    awards = list(session.scalars(
        sa.select(ProgrammeAward).join(PurchaseProgramme, PurchaseProgramme.id == ProgrammeAward.programme_id)
        .where(ProgrammeAward.provider_id == provider.id)
        .order_by(PurchaseProgramme.start_date.desc(), ProgrammeAward.id.desc())))
    counts: dict[tuple[int, UseStatus], int] = {}
    if awards:
        rows = session.execute(
            sa.select(EntitlementUse.award_id, EntitlementUse.status, sa.func.count())
            .where(EntitlementUse.award_id.in_([a.id for a in awards]),
                   EntitlementUse.status.in_([UseStatus.RESERVED, UseStatus.CONSUMED]))
            .group_by(EntitlementUse.award_id, EntitlementUse.status))
        counts = {(award_id, UseStatus(status)): n for award_id, status, n in rows}
    return [AwardSummary(a, counts.get((a.id, UseStatus.RESERVED), 0), counts.get((a.id, UseStatus.CONSUMED), 0))
            for a in awards]
