"""What can be done to a booking now, and by whom: one table.

Each row of :data:`ACTIONS` is one action of one party, written once:

- ``party``: who may do it — the booking's resident, staff of its provider, or
  an official (admins act as officials);
- ``guard``: the checks on the booking (its status through the state machine
  :data:`~providers.bookings.models.BOOKING`, the facts it holds) in order,
  then ``opens``, the moment it becomes possible (check-in from one hour before
  the start; the resident's no-show report once the start plus the grace has
  passed; the provider's record that the resident was not there only after its
  check-in, once it has waited the grace after the start and after arriving);
  the first check that fails is the refusal, with its message and status;
- ``reason``: none, ``"optional"`` or ``"required"``;
- ``service``: the function of :mod:`providers.bookings.services` that does it.

Every service calls :func:`check` with its row before it writes anything, so a
refused action leaves the booking as it was.  The pages draw their buttons, and
the API its ``actions`` list, from :func:`available`, which asks the same
guards: a button shown is an action that succeeds, and an action not shown is
refused by the service.  Who may act is the caller's side: the pages and the
API load only the caller's own bookings (someone else's is a 404) and
:func:`services.perform` refuses a row of another party.

Only the rules of today live here; the finer rules of rating and complaining are
in ``ratings``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l

from app.clock import now
from app.errors import IllegalTransition, Invalid, LinliError
from app.models import User
from providers.bookings.models import BOOKING, Booking, BookingStatus

S = BookingStatus

# Provider staff may check in from this long before the start.
CHECK_IN_LEAD = timedelta(hours=1)


class Party(StrEnum):
    RESIDENT = "resident"
    PROVIDER = "provider"
    OFFICIAL = "official"


def party_of(user: User | None) -> Party | None:
    if user is None:
        return None
    if user.is_resident:
        return Party.RESIDENT
    if user.is_provider_staff:
        return Party.PROVIDER
    if user.is_official:
        return Party.OFFICIAL
    return None


# A check looks at the booking and answers the refusal, or None when it passes.
Check = Callable[[Booking], LinliError | None]


def moves_to(target: BookingStatus) -> Check:
    """The state machine allows the booking's move to ``target``."""

    def check(booking: Booking) -> LinliError | None:
        try:
            BOOKING.check(booking.status, target)
        except IllegalTransition as refusal:
            return refusal
        return None

    return check


def status_is(status: BookingStatus, message) -> Check:
    """For an action that records a fact without a move: the booking is in ``status``."""
    return lambda booking: None if booking.status == status else IllegalTransition(message)


def not_yet(attribute: str, message) -> Check:
    """The fact ``attribute`` is not recorded yet (the action records it once)."""
    return lambda booking: None if getattr(booking, attribute) is None else IllegalTransition(message)


def already(attribute: str, message) -> Check:
    """The fact ``attribute`` has been recorded (the action answers it)."""
    return lambda booking: None if getattr(booking, attribute) is not None else IllegalTransition(message)


def not_confirmed_by_the_resident(booking: Booking) -> LinliError | None:
    """The resident has not confirmed yet.  Linli's confirmation after 72 hours of silence
    does not count: silence proves no visit, so the resident may still confirm (which
    verifies a programme visit that is waiting for it)."""
    if booking.confirmed_at is None or booking.auto_confirmed:
        return None
    return IllegalTransition(_l("This booking is already confirmed."))


def checked_in_first(booking: Booking) -> LinliError | None:
    """A booking the provider has not checked in to (requested, accepted): the resident's
    absence cannot be recorded yet — the provider must be at the door first."""
    if booking.checked_in_at is None and booking.status in (S.REQUESTED, S.ACCEPTED):
        return IllegalTransition(_l("Check in first: you can record that the resident was not there only "
                                    "once you have checked in at their address."))
    return None


def check_in_opens(booking: Booking) -> datetime:
    return booking.starts_at - CHECK_IN_LEAD


def grace_ends(booking: Booking) -> datetime:
    return booking.starts_at + timedelta(minutes=booking.grace_minutes)


def absence_opens(booking: Booking) -> datetime:
    """The provider waits at the door: the grace after the start, and the grace after its
    check-in (a provider that arrives late waits too)."""
    grace = timedelta(minutes=booking.grace_minutes)
    arrived = booking.checked_in_at or booking.starts_at
    return max(booking.starts_at, arrived) + grace


@dataclass(frozen=True)
class Action:
    party: Party
    name: str  # in the page's and the API's URLs
    label: object  # the button
    service: str  # a function of providers.bookings.services
    guard: tuple[Check, ...]
    opens: Callable[[Booking], datetime] | None = None
    too_early: Callable[[Booking], object] | None = None  # the message before ``opens``
    reason: str | None = None  # None, "optional" or "required"
    danger: bool = False
    done: object = None  # the page's message once it is done

    @property
    def key(self) -> str:
        """The name as a Python identifier (``report_no_show``), for templates."""
        return self.name.replace("-", "_")

    def refusal(self, booking: Booking, at: datetime | None = None) -> LinliError | None:
        """Why the action cannot be done to ``booking`` at ``at`` (default now), or None."""
        for check in self.guard:
            refused = check(booking)
            if refused is not None:
                return refused
        if self.opens is not None and (at or now()) < self.opens(booking):
            return Invalid(self.too_early(booking))
        return None

    def allows(self, booking: Booking, at: datetime | None = None) -> bool:
        return self.refusal(booking, at) is None

    def opens_later(self, booking: Booking, at: datetime | None = None) -> datetime | None:
        """When the action opens, if only the clock stands in its way now."""
        if self.opens is None or any(check(booking) is not None for check in self.guard):
            return None
        opens = self.opens(booking)
        return opens if (at or now()) < opens else None

    def may(self, user: User, booking: Booking) -> bool:
        """``user`` is of this action's party for ``booking`` (staff: the page or API loaded it
        as their provider's booking)."""
        if party_of(user) != self.party:
            return False
        return self.party != Party.RESIDENT or booking.resident_id == user.id

    def clean_reason(self, reason: str | None) -> str | None:
        """The reason as stored (stripped, None when empty); Invalid on ``reason`` when required
        and missing, or too long."""
        reason = (reason or "").strip()
        if self.reason == "required" and not reason:
            raise Invalid(_l("Give a reason: the other side will see it."), field="reason")
        if len(reason) > 1000:
            raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
        return reason or None


R, P, O = Party.RESIDENT, Party.PROVIDER, Party.OFFICIAL

# In the order the provider's page shows its buttons and the API lists them (the resident's and
# the official's pages place theirs among their texts).
ACTIONS: tuple[Action, ...] = (
    Action(P, "accept", _l("Accept"), "accept", guard=(moves_to(S.ACCEPTED),),
           done=_l("You accepted the booking.")),
    Action(P, "decline", _l("Decline"), "decline", guard=(moves_to(S.DECLINED),), reason="required",
           danger=True, done=_l("You declined the booking.")),
    Action(P, "check-in", _l("Check in: we have arrived"), "check_in", guard=(moves_to(S.IN_SERVICE),),
           opens=check_in_opens, too_early=lambda b: _l("You can check in at most one hour before the start."),
           done=_l("You checked in: the service has started.")),
    Action(P, "complete", _l("Mark as done"), "complete", guard=(moves_to(S.COMPLETED),),
           done=_l("The service is marked as done.")),
    Action(P, "confirm-no-show", _l("Confirm that we did not come"), "confirm_provider_no_show",
           guard=(already("no_show_reported_at", _l("The resident has not reported a no-show for this booking.")),
                  moves_to(S.NO_SHOW_PROVIDER)),
           reason="optional", danger=True, done=_l("The no-show is recorded.")),
    # Only once checked in (the machine: in service → resident not there), not after the resident
    # reported that nobody came, and after waiting the grace at the door; the resident disputes it
    # with a complaint, which an official decides (ratings.complaints).
    Action(P, "resident-no-show", _l("Record that the resident was not there"), "mark_resident_no_show",
           guard=(checked_in_first, moves_to(S.NO_SHOW_RESIDENT),
                  not_yet("no_show_reported_at", _l("The resident reported that nobody came before you checked "
                                                    "in: you cannot record them as absent."))),
           opens=absence_opens,
           too_early=lambda b: _l("You can record that the resident was not there once you have waited "
                                  "%(n)d minutes after the start time and after your check-in.",
                                  n=b.grace_minutes),
           reason="optional", danger=True, done=_l("The resident's absence is recorded.")),
    Action(P, "cancel", _l("Cancel the booking"), "cancel_by_provider",
           guard=(moves_to(S.CANCELLED_BY_PROVIDER),), reason="required", danger=True,
           done=_l("You cancelled the booking.")),
    Action(R, "cancel", _l("Cancel this booking"), "cancel_by_resident",
           guard=(moves_to(S.CANCELLED_BY_RESIDENT),), reason="optional", danger=True,
           done=_l("Your booking is cancelled.")),
    Action(R, "confirm", _l("Confirm the service was done"), "confirm_completion",
           guard=(status_is(S.COMPLETED, _l("Only a completed booking can be confirmed.")),
                  not_confirmed_by_the_resident),
           done=_l("Thank you: you confirmed the service.")),
    Action(R, "report-no-show", _l("Report that the provider did not come"), "report_provider_no_show",
           guard=(status_is(S.ACCEPTED, _l("A no-show can only be reported for an accepted booking.")),
                  not_yet("no_show_reported_at", _l("You have already reported this no-show."))),
           opens=grace_ends,
           too_early=lambda b: _l("You can report a no-show once the start time plus %(n)d minutes has passed.",
                                  n=b.grace_minutes),
           danger=True, done=_l("Your report is sent. The provider or an official will confirm it.")),
    Action(O, "confirm-no-show", _l("Confirm the provider's no-show"), "confirm_provider_no_show",
           guard=(moves_to(S.NO_SHOW_PROVIDER),), reason="required", danger=True,
           done=_l("The provider's no-show is recorded.")),
)

BY_PARTY: dict[Party, dict[str, Action]] = {
    party: {action.name: action for action in ACTIONS if action.party == party} for party in Party
}
# Every action name, in the table's order (the API's enum).
NAMES: tuple[str, ...] = tuple(dict.fromkeys(action.name for action in ACTIONS))


def get(party: Party, name: str) -> Action:
    return BY_PARTY[party][name]


def find(user: User, name: str) -> Action | None:
    """The row ``name`` of ``user``'s party, if that party has one."""
    party = party_of(user)
    return BY_PARTY[party].get(name) if party is not None else None


def available(booking: Booking, user: User, at: datetime | None = None) -> list[Action]:
    """The actions ``user`` may do to ``booking`` now, in the table's order."""
    at = at or now()
    party = party_of(user)
    if party is None:
        return []
    return [action for action in BY_PARTY[party].values() if action.may(user, booking) and action.allows(booking, at)]


def check(action: Action, booking: Booking, at: datetime | None = None) -> None:
    """Raise the refusal of ``action`` on ``booking`` now, if there is one (before any write)."""
    refused = action.refusal(booking, at)
    if refused is not None:
        raise refused
