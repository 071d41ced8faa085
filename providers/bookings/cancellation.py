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
(Asia/Shanghai) such as "12月5日 周四 09:00", never "24 hours before".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.clock import local
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
