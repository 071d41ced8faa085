"""Demo carers for ``make run``: two per demo provider, with the certificates their
categories require (loading twice changes nothing)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import today
from providers.carers import identity
from providers.carers.kinds import QualificationKind
from providers.carers.models import Carer, CarerQualification
from providers.models import Provider

NAMES = ("王秀兰", "李建国", "张桂英", "刘志强", "陈淑珍", "赵德明", "孙丽华", "周海涛")


def demo_id_number(n: int) -> str:
    first17 = f"370302{1960 + n % 30:04d}0{1 + n % 9}{10 + n % 18:02d}{n % 1000:03d}"
    return first17 + identity.check_character(first17)


def kinds_for(provider: Provider) -> list[QualificationKind]:
    """The certificates a carer of ``provider`` holds: those its categories require (a cleaner
    holds no nurse's licence), or the health certificate when none is required."""
    required = {c.required_qualification for c in provider.categories if c.required_qualification}
    return sorted(required, key=list(QualificationKind).index) or [QualificationKind.HEALTH]


def load_demo(session: Session) -> None:
    providers = session.scalars(sa.select(Provider).order_by(Provider.id)).all()
    n = 0
    for provider in providers:
        if session.scalar(sa.select(Carer.id).where(Carer.provider_id == provider.id).limit(1)):
            continue
        for k in range(2):
            n += 1
            number = demo_id_number(provider.id * 10 + k)
            carer = Carer(provider_id=provider.id, name=NAMES[(provider.id * 2 + k) % len(NAMES)],
                          phone=f"1390000{provider.id:02d}{k:02d}"[:11], id_number_secret=identity.encrypt(number),
                          id_number_digest=identity.digest(number), id_number_masked=identity.mask(number))
            # The second carer's certificates run out within the month: the dashboard warns.
            until = today() + (timedelta(days=25) if k else timedelta(days=700))
            carer.qualifications = [CarerQualification(kind=kind, number=f"{kind.value[:2].upper()}{n:06d}",
                                                       expires_on=until) for kind in kinds_for(provider)]
            session.add(carer)
    session.flush()
