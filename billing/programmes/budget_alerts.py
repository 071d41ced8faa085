"""A programme's budget about to run out, told to the officials.

Once a day is enough, but the job runs every hour (a scheduler down at the hour still
catches up): for each open programme whose projection (:func:`billing.programmes.budget.figures`,
the recent rate of spending) says the budget runs out within ``RUN_OUT_ALERT_DAYS`` (14) and
before the programme's term ends, each official gets one message by the channels they chose,
through the outbox.  The deduplication key names the programme and the budget committed
(``budget-running-out-<programme>-<committed>-<official>``): re-runs add nothing, and a top-up
that raises the budget makes a later alert a new one.  A closed programme, or one whose
spending stopped, gets none.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import today
from app.delivery.outbox import enqueue
from app.delivery.preferences import addresses_of
from app.models import User
from billing.programmes.budget import STEADY, figures
from billing.programmes.jobs import official_ids
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme

RUN_OUT_ALERT_DAYS = 14


def send_budget_alerts(session: Session) -> int:
    """Enqueue the alerts now due; returns how many (each once, whatever the number of runs)."""
    horizon = today() + timedelta(days=RUN_OUT_ALERT_DAYS)
    count = 0
    programmes = session.scalars(sa.select(PurchaseProgramme).where(PurchaseProgramme.status == ProgrammeStatus.OPEN)
                                 .order_by(PurchaseProgramme.id)).all()
    officials = None
    for programme in programmes:
        found = figures(session, programme)
        projection = found.projection
        if projection is None or projection.state != STEADY or projection.runs_out_on is None:
            continue
        if projection.runs_out_on > horizon or projection.runs_out_on > programme.end_date:
            continue
        officials = officials if officials is not None else [session.get(User, i) for i in official_ids(session)]
        params = {"programme": programme.title, "date": projection.runs_out_on.isoformat(),
                  "programme_id": programme.id}
        for official in officials:
            key = f"budget-running-out-{programme.id}-{found.committed}-{official.id}"
            for channel, recipient in addresses_of(session, official):
                enqueue(session, channel=channel, recipient=recipient, template="budget_running_out",
                        params=params, dedup_key=key if channel == "sms" else f"{key}-{channel}",
                        language=official.locale, user_id=official.id)
                count += 1
    return count
