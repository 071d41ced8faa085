"""Scheduled subsidy jobs (run by the scheduler process, each in one transaction)."""

from __future__ import annotations

from sqlalchemy.orm import Session


def disburse_subsidies(session: Session) -> int:
    """Pay every approved claim whose public notice is over (idempotent: a paid
    claim is no longer in notice, and the ledger keys are unique)."""
    from app.db import write_transaction
    from billing.subsidies.review import disburse, due_for_disbursement

    with write_transaction(session):
        due = due_for_disbursement(session)
        for claim_id in due:
            disburse(session, claim_id)
    return len(due)


# Every 15 minutes: a notice ends at the minute it started, 7 days later.
JOBS = [
    (disburse_subsidies, {"trigger": "cron", "minute": "*/15"}),
]
