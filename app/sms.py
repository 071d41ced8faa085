"""Text messages to phones: ``send(session, phone, text)``, kept for the callers that
write their own text (the sign-up and log-in codes of app/auth).

The text becomes an urgent outbox row (app/delivery/outbox.py, template ``text``)
in the caller's transaction, so it exists exactly when what it announces was
committed; urgent, it is sent as soon as the transaction commits (and by the
worker if that fails), whatever the hour.  Which provider carries it is the
outbox's configuration (``LINLI_SMS_SENDER``: the embedded ``outbox``, whose
texts officials read on /official/sms-outbox and ``flask --app app outbox``
prints, or ``aliyun``).  New code should enqueue a template of its own
(:func:`app.delivery.outbox.enqueue`): a real provider sends only the templates
it approved.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def send(session: Session, phone: str, text: str, *, language: str | None = None) -> None:
    """Send ``text`` to ``phone`` once ``session``'s transaction commits (at least once)."""
    from app.delivery.outbox import enqueue, new_key

    enqueue(session, channel="sms", recipient=phone, template="text", params={"text": text[:500]},
            dedup_key=new_key("sms"), language=language, urgent=True)
