"""Who pays for a booking, what its status means for the money, and the funding registry.

Funding is a fact of the booking, stored when it is made
(``booking.funding`` and ``booking.programme_award_id``, tied by a CHECK; see
:mod:`providers.bookings.models`): resident-paid unless a purchase programme
books it with an entitlement.  :func:`funding_of` is the one question billing
asks of a booking; set-based code filters on ``Booking.funding``.

Billing dispatches on funding through :data:`registry`: each kind of funding
registers one :class:`FundingRules` — what a booking change does to its money,
and the settlement sources its bookings are paid from.  The billing core
registers resident-paid bookings (billing/receivers.py); billing/programmes
registers programme funding from ``register_programmes``.  So the core never
imports a funding's package, and a booking whose funding has no rules fails
loudly instead of being treated as resident-paid.

The money meaning of each booking status (one home, used by payments, refunds,
receivers and entitlements):

``HOLDS_MONEY``     requested, accepted, in service: what was paid or reserved is held;
``EARNS_MONEY``     completed: what was held is earned by the provider;
``RELEASES_MONEY``  closed without service (declined, expired, cancelled, no-show):
                    what was held goes back (refund, cancelled payment, released budget).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from providers.bookings.models import Booking, BookingFunding, BookingStatus, Funding

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.periods import Period
    from billing.payment_models import Settlement, SettlementSource
    from billing.settlement_sources import Line

S = BookingStatus

HOLDS_MONEY = frozenset({S.REQUESTED, S.ACCEPTED, S.IN_SERVICE})
EARNS_MONEY = frozenset({S.COMPLETED})
RELEASES_MONEY = frozenset({S.DECLINED, S.EXPIRED, S.CANCELLED_BY_RESIDENT, S.CANCELLED_BY_PROVIDER,
                            S.NO_SHOW_PROVIDER, S.NO_SHOW_RESIDENT})
# A resident may pay while the booking holds money or once it is earned.
PAYABLE = HOLDS_MONEY | EARNS_MONEY


def funding_of(booking: Booking) -> BookingFunding:
    """Who pays for this booking (the stored fact)."""
    return BookingFunding(Funding(booking.funding), booking.programme_award_id)


# (session, provider_id, period) -> the period's unsettled lines of one source.
SourceLines = Callable[["Session", int, "Period"], list["Line"]]


@dataclass(frozen=True, eq=False)
class FundingRules:
    """What billing does for the bookings of one kind of funding (hashed by identity)."""

    funding: Funding
    # (session, *, booking, old, new, actor): inside the booking's transaction, after every
    # status change (old is None when the booking is requested); may raise a LinliError.
    booking_changed: Callable[..., None]
    settlement_sources: Mapping[SettlementSource, SourceLines] = field(default_factory=dict)
    # (session, settlement, its lines of these sources): posts what settlement owes for them.
    post_settlement: Callable[[Session, Settlement, list[Line]], None] | None = None
    # (session, period): providers these sources pay in the month beyond those with bookings
    # completed in it (a programme visit served earlier and proven this month).
    providers_to_settle: Callable[[Session, Period], set[int]] | None = None
    # (session, provider_id, period): the statement's notes of this funding — lines not paid
    # this month (pending, released, clawed back), shown beside the paid ones.
    statement_notes: Callable[[Session, int, Period], list] | None = None


class FundingRegistry:
    """The rules of each funding, filled in by the packages that pay for bookings."""

    def __init__(self) -> None:
        self._rules: dict[Funding, FundingRules] = {}

    def register(self, rules: FundingRules) -> None:
        """Register (or replace: each app registers again) the rules of one funding."""
        self._rules[rules.funding] = rules

    def rules_for(self, funding: Funding | Booking) -> FundingRules:
        kind = funding_of(funding).kind if isinstance(funding, Booking) else Funding(funding)
        try:
            return self._rules[kind]
        except KeyError:
            raise LookupError(f"no billing rules are registered for {kind.value} funding") from None

    def all(self) -> list[FundingRules]:
        """The registered rules, in the order of :class:`Funding`."""
        return [self._rules[kind] for kind in Funding if kind in self._rules]


registry = FundingRegistry()
