"""Scheduled programme jobs (run by the scheduler process, each in one transaction).

``close_ended_programmes`` closes every open programme whose term is over: the
local (Asia/Shanghai) date is after its last day.  It goes through the
programme's state machine (open → closed), writes an audit event with no
actor (the system), and tells the awarded providers' staff and the officials.
Idempotent: a closed programme is no longer selected, and each one is
re-read under a row lock before it is closed, so a second run (or a second
scheduler) closes nothing twice.

``release_unverified_visits`` releases unpaid the served programme visits
neither verified nor cleared within ``LINLI_PROGRAMME_VERIFY_DAYS`` (default 30)
of check-out, telling each provider's staff (billing/programmes/visit_money.py
holds the rule); equally idempotent.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import today
from app.models import Role, User
from app.notifications import notify
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme
from billing.programmes.programmes import close_at_term_end
from providers.models import ProviderStaff

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "programme.closed_at_term_end": _l("The purchase programme %(title)s is closed: its term ended on %(end)s. "
                                       "No new bookings; accepted visits are still served and paid."),
}


def official_ids(session: Session) -> list[int]:
    return list(session.scalars(sa.select(User.id).where(User.role.in_((Role.OFFICIAL, Role.ADMIN)),
                                                         User.disabled_at.is_(None)).order_by(User.id)))


def awardee_staff_ids(session: Session, programme: PurchaseProgramme) -> list[int]:
    provider_ids = [award.provider_id for award in programme.awards]
    return list(session.scalars(sa.select(ProviderStaff.user_id).where(ProviderStaff.provider_id.in_(provider_ids or [-1]))
                                .order_by(ProviderStaff.user_id)))


def ended_programme_ids(session: Session) -> list[int]:
    return list(session.scalars(
        sa.select(PurchaseProgramme.id).where(PurchaseProgramme.status == ProgrammeStatus.OPEN,
                                              PurchaseProgramme.end_date < today()).order_by(PurchaseProgramme.id)))


def close_ended_programmes(session: Session) -> int:
    """Close open programmes whose term is over (local date after the last day); notify
    the awardees' staff and the officials.  Returns how many were closed now."""
    from app.db import write_transaction

    closed = 0
    with write_transaction(session):
        for programme_id in ended_programme_ids(session):
            programme = session.scalar(
                sa.select(PurchaseProgramme).where(PurchaseProgramme.id == programme_id,
                                                   PurchaseProgramme.status == ProgrammeStatus.OPEN)
                .with_for_update().execution_options(populate_existing=True))
            if programme is None or programme.end_date >= today():
                continue  # closed meanwhile by an official or another run
            close_at_term_end(session, programme)
            params = {"title": programme.title, "end": programme.end_date.isoformat()}
            notify(session, awardee_staff_ids(session, programme), "programme.closed_at_term_end",
                   link="/provider/programmes", **params)
            notify(session, official_ids(session), "programme.closed_at_term_end",
                   link=f"/official/programmes/{programme.id}", **params)
            closed += 1
    return closed


def release_unverified_visits(session: Session) -> int:
    """Release unpaid the overdue unverified programme visits (one transaction); returns how many."""
    from app.db import write_transaction
    from billing.programmes.visit_money import release_overdue

    with write_transaction(session):
        return release_overdue(session)


# Shortly after local midnight: a term ends at the end of its last day; a visit's
# verification deadline is counted in days.
JOBS = [
    (close_ended_programmes, {"trigger": "cron", "hour": 0, "minute": 10}),
    (release_unverified_visits, {"trigger": "cron", "hour": 0, "minute": 20}),
]
