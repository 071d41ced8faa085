"""Bookings, their slots and their history.

A booking's deadlines are facts stored when it is made (respond-by, start,
end, grace), and its lateness is recorded when it happens (late response,
late start, late finish), so the scorecard and the evaluator read facts rather
than recomputing guesses.

Capacity lives in ``booking_slot``: one row per listing and start time, with a
``taken`` counter that a CHECK keeps within ``capacity``.  A booking takes a
place with a conditional ``UPDATE … SET taken = taken + 1 WHERE taken <
capacity``; the database serialises concurrent updates of the row, so the last
place goes to exactly one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import Community, User
from app.states import StateMachine
from providers.carers.models import Carer
from providers.models import Listing, Provider


class BookingStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    IN_SERVICE = "in_service"
    COMPLETED = "completed"
    CANCELLED_BY_RESIDENT = "cancelled_by_resident"
    CANCELLED_BY_PROVIDER = "cancelled_by_provider"
    NO_SHOW_PROVIDER = "no_show_provider"
    NO_SHOW_RESIDENT = "no_show_resident"


S = BookingStatus

# The booking's state machine (``BOOKING`` below).  Anything not listed here is refused.
BOOKING_TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    S.REQUESTED: frozenset({S.ACCEPTED, S.DECLINED, S.EXPIRED, S.CANCELLED_BY_RESIDENT}),
    S.ACCEPTED: frozenset(
        {S.IN_SERVICE, S.CANCELLED_BY_RESIDENT, S.CANCELLED_BY_PROVIDER, S.NO_SHOW_PROVIDER}
    ),
    # Checked in (the provider is at the door): the service is done, or the resident was not
    # there.  A resident's absence is recorded only after the provider's check-in, never
    # straight from an accepted booking (issue 12, item 3).
    S.IN_SERVICE: frozenset({S.COMPLETED, S.NO_SHOW_RESIDENT}),
    S.COMPLETED: frozenset(),
    S.DECLINED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED_BY_RESIDENT: frozenset(),
    S.CANCELLED_BY_PROVIDER: frozenset(),
    S.NO_SHOW_PROVIDER: frozenset(),
    S.NO_SHOW_RESIDENT: frozenset(),
}

# States that hold a place in the slot.
HOLDS_PLACE = frozenset({S.REQUESTED, S.ACCEPTED, S.IN_SERVICE, S.COMPLETED})
OPEN = frozenset({S.REQUESTED, S.ACCEPTED, S.IN_SERVICE})

BOOKING_STATUS_LABELS = {
    S.REQUESTED: _l("Waiting for the provider"),
    S.ACCEPTED: _l("Accepted"),
    S.DECLINED: _l("Declined"),
    S.EXPIRED: _l("Expired (no answer in time)"),
    S.IN_SERVICE: _l("In service"),
    S.COMPLETED: _l("Completed"),
    S.CANCELLED_BY_RESIDENT: _l("Cancelled by the resident"),
    S.CANCELLED_BY_PROVIDER: _l("Cancelled by the provider"),
    S.NO_SHOW_PROVIDER: _l("Provider did not come"),
    S.NO_SHOW_RESIDENT: _l("Resident was not there"),
}

BOOKING = StateMachine(
    "booking", BookingStatus, BOOKING_TRANSITIONS, initial=S.REQUESTED, labels=BOOKING_STATUS_LABELS,
    message=lambda old, new: _l("This booking is %(old)s; it cannot become %(new)s.", old=old, new=new),
)

# A live booking is an open one; a resident holds at most one live booking of a slot.
LIVE_STATUSES_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in BookingStatus if s in OPEN))


class Funding(StrEnum):
    """Who pays for a booking: the resident, or a purchase programme through one of its awards."""

    RESIDENT = "resident"
    PROGRAMME = "programme"


@dataclass(frozen=True)
class BookingFunding:
    """A booking's funding as it is stored on it (``funding``, ``programme_award_id``)."""

    kind: Funding = Funding.RESIDENT
    programme_award_id: int | None = None

    @classmethod
    def programme(cls, award_id: int) -> BookingFunding:
        return cls(Funding.PROGRAMME, award_id)


RESIDENT_PAID = BookingFunding()


class BookingSlot(db.Model):
    """The places of one listing at one start time."""

    __tablename__ = "booking_slot"
    __table_args__ = (
        sa.UniqueConstraint("listing_id", "starts_at"),
        # Capacity is never exceeded, whatever the application does.
        sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="taken_within_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)
    taken: Mapped[int] = mapped_column(sa.SmallInteger, default=0)


class Booking(db.Model):
    __tablename__ = "booking"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("price_fen >= 0", name="price_nonnegative"),
        sa.Index("ix_booking_provider_starts", "provider_id", "starts_at"),
        sa.Index("ix_booking_resident_starts", "resident_id", "starts_at"),
        # The expiry job looks for open requests past their respond-by time.
        sa.Index("ix_booking_status_respond_by", "status", "respond_by"),
        # Programme funding names its award; a resident-paid booking names none.
        sa.CheckConstraint(
            "(funding = 'programme' AND programme_award_id IS NOT NULL)"
            " OR (funding = 'resident' AND programme_award_id IS NULL)",
            name="funding_names_award",
        ),
        # One live booking per resident and slot: a double submit of the booking form or a
        # doubled API request makes one booking, whatever the application does.
        sa.Index(
            "uq_booking_one_live_per_slot", "resident_id", "slot_id", unique=True,
            sqlite_where=sa.text(LIVE_STATUSES_SQL), postgresql_where=sa.text(LIVE_STATUSES_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"), index=True)
    listing_version: Mapped[int] = mapped_column()
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"))
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("booking_slot.id"), index=True)
    status: Mapped[BookingStatus] = mapped_column(
        enum_column(BookingStatus, "booking_status"), default=BookingStatus.REQUESTED
    )
    address: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    price_fen: Mapped[int] = mapped_column()
    # Who pays, fixed when the booking is made (billing reads it: billing.funding.funding_of).
    funding: Mapped[Funding] = mapped_column(
        enum_column(Funding, "booking_funding"), default=Funding.RESIDENT, server_default=Funding.RESIDENT.value
    )
    programme_award_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programme_award.id"), index=True)
    # The carer who serves the visit: chosen when the booking is accepted, changeable until
    # check-in (providers.carers.assignment).  On PostgreSQL an exclusion constraint
    # (migration 0024_carers, ``ex_booking_carer_overlap``) keeps one carer out of two live
    # visits whose times overlap; SQLite is checked by the service under the write lock.
    carer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("carer.id"), index=True)
    # Deadlines, fixed when the booking is made.
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    grace_minutes: Mapped[int] = mapped_column(sa.SmallInteger, default=15)
    # What happened, and when.
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_confirmed: Mapped[bool] = mapped_column(default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Lateness facts, recorded at the transition that establishes them.
    late_response: Mapped[bool] = mapped_column(default=False)
    late_start: Mapped[bool] = mapped_column(default=False)
    late_finish: Mapped[bool] = mapped_column(default=False)
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    # A resident's report that the provider did not come, awaiting confirmation.
    no_show_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    listing: Mapped[Listing] = relationship()
    provider: Mapped[Provider] = relationship()
    resident: Mapped[User] = relationship()
    community: Mapped[Community] = relationship()
    carer: Mapped[Carer | None] = relationship()
    events: Mapped[list[BookingEvent]] = relationship(
        back_populates="booking", order_by="BookingEvent.id"
    )

    @property
    def status_label(self) -> str:
        return str(BOOKING_STATUS_LABELS[self.status])

    @property
    def is_late(self) -> bool:
        return self.late_response or self.late_start or self.late_finish


class BookingEvent(db.Model):
    """One transition of a booking: who, when, from, to, why."""

    __tablename__ = "booking_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    from_status: Mapped[BookingStatus | None] = mapped_column(
        enum_column(BookingStatus, "booking_event_from")
    )
    to_status: Mapped[BookingStatus] = mapped_column(enum_column(BookingStatus, "booking_event_to"))
    reason: Mapped[str | None] = mapped_column(sa.Text)

    booking: Mapped[Booking] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class ContactAccess(db.Model):
    """An official looked at a resident's contact details, and said why."""

    __tablename__ = "contact_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), index=True)
    official_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
