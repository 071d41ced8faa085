"""A resident's cancellation: until when it is free, and what it costs after — one rule.

The rule (``BOOKING_FREE_CANCEL_HOURS`` before the start):

- cancelling an *accepted* booking after :func:`free_until` is a late cancellation
  (:func:`late_if_cancelled_at`; the booking service stores the fact on the booking when it
  happens, ``booking.late_cancellation``);
- cancelling before then, or while the provider has not accepted, is free;
- on a late cancellation of a booking the resident paid, the provider keeps the fee fixed on
  the booking when it was made.  Billing holds that amount (``billing/refunds.py``, the
  function the refund itself uses) and answers it here as the registry fact
  ``booking.cancel_cost`` (:func:`cost_of`), so the pages state the amount the refund keeps,
  never a second sum of their own.  A booking a purchase programme pays has no fee (None).

The wording is made here too (:func:`deadline_text`, :func:`day_label`): an exact local time
(Asia/Shanghai) such as "12月5日 周四 09:00", never "24 hours before".  What cancelling costs is
worded by one function for the booking form (:func:`slot_wording`), the booking page and its
confirmation dialog (:func:`booking_wording`): the refund keeps a share of what was *paid*
and nothing of an unpaid booking, so before the resident has paid the fee is always stated as
"if you have paid" (whatever the listing's payment policy: paid on booking, on acceptance or
directly to the provider, a booking not paid when cancelled keeps nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.clock import local
from app.money import format_fen
from providers.bookings.models import Booking, BookingStatus

SHORT_WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))


def notice() -> timedelta:
    return timedelta(hours=int(current_app.config["BOOKING_FREE_CANCEL_HOURS"]))


def free_until(starts_at: datetime) -> datetime:
    """The last moment a booking starting at ``starts_at`` can be cancelled free of charge."""
    return starts_at - notice()


def late_if_cancelled_at(booking: Booking, at: datetime) -> bool:
    """Whether the resident cancelling ``booking`` at ``at`` is a late cancellation."""
    return booking.status == BookingStatus.ACCEPTED and at > free_until(booking.starts_at)


def inside_window(starts_at: datetime, at: datetime) -> bool:
    """A slot whose free-cancellation time has already passed at ``at``."""
    return at > free_until(starts_at)


@dataclass(frozen=True)
class CancelCost:
    """Billing's answer for one booking (see ``billing.cancel_costs.cancel_cost``)."""

    percent: int  # the fee fixed on the booking when it was made
    now_fen: int  # what cancelling at that moment keeps: the amount the refund would keep
    late_fen: int  # what a late cancellation keeps (of what is paid, else of the price)
    paid: bool  # the resident has paid (a fee is only ever kept of a payment)


def cost_of(booking: Booking) -> CancelCost | None:
    """What cancelling ``booking`` now would cost, as billing answers it; None when the
    resident pays nothing (a purchase programme pays) or no domain answers."""
    from app.registry import registry

    return registry().fact_of("booking.cancel_cost", booking)


def listing_fee(listing) -> tuple[int, int] | None:
    """``(fee_fen, percent)`` a late cancellation of a booking of ``listing`` made now would
    keep of its price, as billing answers it (the listing's current policy, fixed on the
    booking when it is made); None when no domain answers."""
    from app.registry import registry

    return registry().fact_of("listing.late_cancel_fee", listing)


def day_label(day: date) -> str:
    """A day of the day strip: "周四 12/5" / "Thu 12/5"."""
    return _("%(weekday)s %(month)d/%(day)d", weekday=SHORT_WEEKDAYS[day.weekday()], month=day.month,
             day=day.day)


def deadline_text(at: datetime) -> str:
    """An exact local time: "12月5日 周四 09:00" / "Thu 12/5 09:00"."""
    moment = local(at)
    return _("%(weekday)s %(month)d/%(day)d %(time)s", weekday=SHORT_WEEKDAYS[moment.weekday()],
             month=moment.month, day=moment.day, time=moment.strftime("%H:%M"))


# --- the words: one home for what cancelling costs -----------------------------------------


def slot_wording(starts_at: datetime, current: datetime, fee: tuple[int, int] | None, funded: bool) -> dict:
    """What the booking form says of cancelling a time before it is booked: free until an
    exact time; or, inside the notice window, what a cancellation after acceptance keeps —
    ``fee_if_paid_fen`` when the resident has paid by then, nothing when not (the refund's
    rule); a programme-funded booking has no fee.  ``short`` is the line on the time's
    button, ``terms`` the sentence under the times."""
    until = free_until(starts_at)
    inside = inside_window(starts_at, current)
    fee_fen, percent = fee or (0, 0)
    charged = inside and not funded and fee_fen > 0
    if funded:
        short = _("No fee")
        terms = _("Paid by the programme: cancelling costs you nothing.")
    elif charged:
        short = _("Fee if paid: %(fee)s", fee=format_fen(fee_fen))
        terms = _("This time starts in less than %(h)d hours, so free cancellation has already ended. Once the "
                  "provider accepts, cancelling keeps %(p)d%% of what you have paid (%(fee)s) and refunds the "
                  "rest; if you have not paid yet, cancelling costs nothing.",
                  h=int(current_app.config["BOOKING_FREE_CANCEL_HOURS"]), fee=format_fen(fee_fen), p=percent)
    elif inside:
        short = _("No fee")
        terms = _("Cancelling costs nothing: this provider keeps no fee.")
    else:
        short = _("Free until %(when)s", when=deadline_text(until))
        terms = _("Free cancellation until %(when)s.", when=deadline_text(until))
    return {"inside": charged, "short": short, "terms": terms,
            "fee_if_paid_fen": fee_fen if charged else 0, "fee_if_unpaid_fen": 0}


def booking_wording(booking: Booking, cost: CancelCost | None, current: datetime) -> dict:
    """What the booking page says of cancelling it now and its cancel dialog asks: the exact
    free-cancellation time while it is ahead, the amount cancelling now keeps (billing's
    answer, the refund's own rule: ``cancel_fee_fen``), never "free" once the free time has
    passed, and a later fee only as "if you have paid" while nothing is paid."""
    until = free_until(booking.starts_at)
    passed = current > until
    when = deadline_text(until)
    if cost is None:  # a purchase programme pays: the resident has no fee to pay
        now_text = _("Paid by the programme: cancelling costs you nothing.")
    elif cost.now_fen:
        now_text = _("Cancelling now costs %(fee)s (%(p)d%% of what you paid): free cancellation ended at "
                     "%(when)s. The rest is refunded.", fee=format_fen(cost.now_fen), p=cost.percent, when=when)
    elif late_if_cancelled_at(booking, current):
        now_text = _("Cancelling now is a late cancellation (free cancellation ended at %(when)s). You have not "
                     "paid yet, so no fee is kept.", when=when)
    elif not cost.late_fen:
        now_text = (_("Cancelling costs nothing: this provider keeps no fee.") if passed
                    else _("Free cancellation until %(when)s.", when=when))
    elif passed and cost.paid:
        now_text = _("Cancelling now costs nothing, because the provider has not accepted yet. Free "
                     "cancellation ended at %(when)s: once the provider accepts, cancelling costs %(fee)s "
                     "(%(p)d%%).", when=when, fee=format_fen(cost.late_fen), p=cost.percent)
    elif passed:
        now_text = _("Cancelling now costs nothing, because the provider has not accepted yet. Free "
                     "cancellation ended at %(when)s: once the provider accepts, cancelling keeps %(p)d%% of "
                     "what you have paid (%(fee)s); if you have not paid, it costs nothing.",
                     when=when, fee=format_fen(cost.late_fen), p=cost.percent)
    elif cost.paid:
        now_text = _("Free cancellation until %(when)s. After that, once the provider has accepted, cancelling "
                     "costs %(fee)s (%(p)d%%).", when=when, fee=format_fen(cost.late_fen), p=cost.percent)
    else:
        now_text = _("Free cancellation until %(when)s. After that, once the provider has accepted, cancelling "
                     "keeps %(p)d%% of what you have paid (%(fee)s); if you have not paid, it costs nothing.",
                     when=when, fee=format_fen(cost.late_fen), p=cost.percent)
    fee_now = cost.now_fen if cost else 0
    return {"cancel_cost": cost, "cancel_fee_fen": fee_now, "cancel_text": now_text,
            "free_until_text": when, "free_passed": passed,
            "cancel_confirm": (_("Cancel this booking? %(fee)s will be kept.", fee=format_fen(fee_now))
                               if fee_now else _("Cancel this booking? It costs nothing."))}
