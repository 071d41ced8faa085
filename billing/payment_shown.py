"""What a booking's payment is called on the pages: one wording per kind of payment and state.

The word "refunded" is kept for money that really went back: a gateway refund that the
gateway confirmed.  Linli never holds an offline payment (cash at the visit or a bank
transfer to the provider), so:

- an offline payment cancelled before the provider confirmed receiving it is *not
  collected*: nothing was paid, nothing is refunded;
- an offline payment the provider confirmed and then had to give back (the booking closed
  unserved: :func:`billing.refunds.create_refund` records it at once) is *to be returned by
  the provider*: Linli cannot know the cash went back, so it never says it did;
- an online payment cancelled before it was made is *not charged*.

:func:`payment_shown` is a pure function of the payment and its refunds (no query), so the
rule is tested for each kind × state without a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.money import format_fen
from billing.payment_models import Payment, PaymentStatus, RefundStatus

OFFLINE = "offline"


@dataclass(frozen=True)
class PaymentShown:
    """A payment as the page names it: a state code (for tests and CSS), its label, and a
    sentence for the resident saying what happened to their money (or None)."""

    state: str
    label: str
    note: str | None = None
    badge: str = "pending"


def payment_shown(payment: Payment) -> PaymentShown:
    """The wording for ``payment`` (offline or online) in its state, refunds included."""
    offline = payment.gateway == OFFLINE
    status = PaymentStatus(payment.status)
    if status == PaymentStatus.PENDING:
        if offline:
            return PaymentShown("not_paid", str(_l("Not paid yet")),
                                str(_l("Pay the provider directly; the provider confirms when it has the money.")))
        return PaymentShown("not_paid", str(_l("Not paid yet")))
    if status == PaymentStatus.FAILED:
        return PaymentShown("failed", str(_l("Payment failed")), str(_l("Nothing was charged.")), "rejected")
    if status == PaymentStatus.CANCELLED:
        if offline:
            return PaymentShown("not_collected", str(_l("Not collected")),
                                str(_l("You paid nothing to the provider, so there is nothing to refund.")),
                                "cancelled_by_resident")
        return PaymentShown("not_charged", str(_l("Not charged")),
                            str(_l("Nothing was charged, so there is nothing to refund.")), "cancelled_by_resident")
    # Succeeded: what went back, what is on its way, what the provider kept.
    refunds = list(payment.refunds or [])
    back = sum(r.amount_fen for r in refunds if RefundStatus(r.status) == RefundStatus.SUCCEEDED)
    coming = sum(r.amount_fen for r in refunds if RefundStatus(r.status) == RefundStatus.PENDING)
    kept = sum(r.late_fee_fen or 0 for r in refunds)
    kept_note = str(_l("The provider kept %(fee)s as the late-cancellation fee.", fee=format_fen(kept))) if kept else ""
    if offline:
        if back or coming:
            owed = back + coming
            note = str(_l("You paid the provider directly, so the provider gives %(amount)s back to you; Linli "
                          "does not hold this money. If you do not get it back, make a complaint.",
                          amount=format_fen(owed)))
            return PaymentShown("provider_returns", str(_l("To be returned by the provider")),
                                " ".join(filter(None, [note, kept_note])), "pending")
        if kept:
            return PaymentShown("fee_kept", str(_l("Paid")), kept_note, "completed")
        return PaymentShown("paid", str(_l("Paid")),
                            str(_l("You paid the provider directly; the provider confirmed receiving the money.")), "completed")
    if coming:
        note = str(_l("%(amount)s is on its way back to the card or account you paid with.", amount=format_fen(coming)))
        return PaymentShown("refund_pending", str(_l("Refund on its way")),
                            " ".join(filter(None, [note, kept_note])), "pending")
    if back >= payment.amount_fen:
        return PaymentShown("refunded", str(_l("Refunded")),
                            str(_l("%(amount)s went back to the card or account you paid with.", amount=format_fen(back))),
                            "cancelled_by_resident")
    if back:
        note = str(_l("%(amount)s went back to the card or account you paid with.", amount=format_fen(back)))
        return PaymentShown("partly_refunded", str(_l("Partly refunded")),
                            " ".join(filter(None, [note, kept_note])), "cancelled_by_resident")
    if kept:
        return PaymentShown("fee_kept", str(_l("Paid")), kept_note, "completed")
    return PaymentShown("paid", str(_l("Paid")), None, "completed")
