"""What proves a visit happened, stored where it happens.

- :class:`HomeLocation`: the resident's home, set once with consent (from a phone
  at the door or entered as coordinates); check-ins are measured against it.
- :class:`VisitRecord`: one per booking that was checked in to.  The times are
  the booking's (``checked_in_at``, ``completed_at``); the record keeps where the
  device was (coordinates, accuracy, distance to the home), which device, the
  tasks done, the reason for an early check-out, the visit's one-time code, and
  how the visit was **verified** (``verified_at`` + ``verified_by``, set once) or
  **cleared** by an official for payment.
- :class:`VisitPhoto`: before/after photos, EXIF stripped, hashed (sha256).
- :class:`CodeCard` / :class:`CardCode`: a printed card of one-time codes for a
  resident without a phone; each code works once; a card can be revoked.
- :class:`VisitFlag`: an anomaly a rule found on a visit, with its evidence; an
  official may clear it with a reason.  One flag per visit and rule.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import User
from providers.bookings.models import Booking


class LocationMethod(StrEnum):
    DEVICE = "device"  # the browser's Geolocation API, at the door
    ENTERED = "entered"  # coordinates typed in (no online map service)


class HomeLocation(db.Model):
    """A resident's home, against which check-ins and check-outs are measured."""

    __tablename__ = "home_location"
    __table_args__ = (
        sa.CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coordinates_valid"),
    )

    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    method: Mapped[LocationMethod] = mapped_column(enum_column(LocationMethod, "location_method"))
    # The resident (or the family member, grid worker or official setting it) agreed.
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    set_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    resident: Mapped[User] = relationship(foreign_keys=[resident_id])
    set_by: Mapped[User] = relationship(foreign_keys=[set_by_id])


class VerifiedBy(StrEnum):
    CODE = "code"  # the one-time code the resident's page showed, entered at check-out
    CARD = "card"  # a one-time code from the resident's printed code card
    RESIDENT = "resident"  # the resident confirmed in the app
    PROXY = "proxy"  # a family member confirmed for them
    FOLLOW_UP = "follow_up"  # a follow-up call found it served


VERIFIED_BY_LABELS = {
    VerifiedBy.CODE: _l("visit code"),
    VerifiedBy.CARD: _l("code card"),
    VerifiedBy.RESIDENT: _l("resident's confirmation"),
    VerifiedBy.PROXY: _l("family member's confirmation"),
    VerifiedBy.FOLLOW_UP: _l("follow-up call"),
}


class VisitRecord(db.Model):
    """The proof of one visit (one per booking, from its check-in)."""

    __tablename__ = "visit_record"
    __table_args__ = (
        # Verified once, by one method; the method is known exactly when the time is.
        sa.CheckConstraint("(verified_at IS NULL) = (verified_by IS NULL)", name="verified_has_method"),
        # A clearance names who cleared and why.
        sa.CheckConstraint(
            "cleared_at IS NULL OR (cleared_by_id IS NOT NULL AND clear_reason IS NOT NULL)",
            name="cleared_has_reason",
        ),
        sa.CheckConstraint("code_attempts >= 0", name="code_attempts_nonnegative"),
        sa.Index("ix_visit_record_check_in_device", "check_in_device"),
    )

    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), primary_key=True)
    # Check-in: where the device was (None: the browser gave no location), how sure, how far.
    checked_in_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    check_in_lat: Mapped[float | None] = mapped_column(sa.Float)
    check_in_lon: Mapped[float | None] = mapped_column(sa.Float)
    check_in_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    check_in_distance_m: Mapped[int | None] = mapped_column()
    # A digest of the device's cookie (never the cookie): one device, many carers is a flag.
    check_in_device: Mapped[str | None] = mapped_column(sa.String(64))
    # Check-out, the same facts.
    checked_out_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    check_out_lat: Mapped[float | None] = mapped_column(sa.Float)
    check_out_lon: Mapped[float | None] = mapped_column(sa.Float)
    check_out_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    check_out_distance_m: Mapped[int | None] = mapped_column()
    check_out_device: Mapped[str | None] = mapped_column(sa.String(64))
    # Why the carer left before the listing's minimum share of its duration.
    short_reason: Mapped[str | None] = mapped_column(sa.Text)
    # The listing's checklist items ticked at check-out.
    tasks_done: Mapped[list] = mapped_column(sa.JSON, default=list)
    # The visit's one-time code (shown on the resident's page while in service).
    code: Mapped[str | None] = mapped_column(sa.String(6))
    code_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    code_locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Verification: set once (providers.visits.verification.verify).
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[VerifiedBy | None] = mapped_column(enum_column(VerifiedBy, "verified_by"))
    verified_actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    # An official cleared the unverified visit for payment (verification.clear).
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    clear_reason: Mapped[str | None] = mapped_column(sa.Text)
    # The retention job dropped the raw coordinates (the distances stay).
    coordinates_dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    booking: Mapped[Booking] = relationship()

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def verified_label(self) -> str | None:
        return str(VERIFIED_BY_LABELS[self.verified_by]) if self.verified_by else None


class PhotoStage(StrEnum):
    BEFORE = "before"
    AFTER = "after"


class VisitPhoto(db.Model):
    """A photo of a visit: the stored file (EXIF stripped), its hash and the server's time."""

    __tablename__ = "visit_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), index=True)
    stage: Mapped[PhotoStage] = mapped_column(enum_column(PhotoStage, "photo_stage"))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    # Of the stored (stripped) file: the same photo on two visits is a flag.
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))


class CodeCard(db.Model):
    """A printed card of one-time codes, for a resident without a phone."""

    __tablename__ = "code_card"
    __table_args__ = (
        # One active card per resident: a carer's code is looked up on the resident's card in
        # use, so two live cards would make a lost card's codes still work.  A new card is
        # issued only after the old one is revoked (cards.issue checks first, this decides).
        sa.Index("uq_code_card_active_resident", "resident_id", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    revoke_reason: Mapped[str | None] = mapped_column(sa.Text)

    codes: Mapped[list[CardCode]] = relationship(back_populates="card", order_by="CardCode.position")


class CardCode(db.Model):
    """One code of a card: only its keyed digest is stored; it works once."""

    __tablename__ = "card_code"
    __table_args__ = (
        sa.UniqueConstraint("card_id", "position"),
        # A code is used for one visit, and a visit is verified by one card code.
        sa.UniqueConstraint("booking_id"),
        sa.CheckConstraint("(used_at IS NULL) = (booking_id IS NULL)", name="used_for_a_visit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(sa.ForeignKey("code_card.id"), index=True)
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    digest: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booking_id: Mapped[int | None] = mapped_column(sa.ForeignKey("booking.id"))

    card: Mapped[CodeCard] = relationship(back_populates="codes")


class FlagRule(StrEnum):
    """The anomaly rules (providers/visits/flags.py holds each rule's test, in one place)."""

    NO_LOCATION = "no_location"  # check-in or check-out without a location
    OUTSIDE_RADIUS = "outside_radius"  # check-in or check-out farther than the radius from home
    SHORT_DURATION = "short_duration"  # checked out before the minimum share of the duration
    NO_CODE = "no_code"  # closed without the resident's code (or card code)
    CODE_LOCKED = "code_locked"  # the code was entered wrong too many times
    BACKFILLED = "backfilled"  # checked out long after the slot's end
    CARER_OVERLAP = "carer_overlap"  # one carer in overlapping visits
    SHARED_DEVICE = "shared_device"  # one device used for many carers' check-ins
    SHARED_PLACE = "shared_place"  # one place used for many carers' check-ins
    SAME_PHOTO = "same_photo"  # the same photo (hash) on different visits
    BURST_CLOSURES = "burst_closures"  # many visits closed within minutes from one place


FLAG_RULE_LABELS = {
    FlagRule.NO_LOCATION: _l("No location at check-in or check-out"),
    FlagRule.OUTSIDE_RADIUS: _l("Checked in or out far from the resident's home"),
    FlagRule.SHORT_DURATION: _l("Visit shorter than the minimum"),
    FlagRule.NO_CODE: _l("Closed without the resident's code"),
    FlagRule.CODE_LOCKED: _l("Visit code entered wrong too many times"),
    FlagRule.BACKFILLED: _l("Checked out long after the visit's end (back-filled)"),
    FlagRule.CARER_OVERLAP: _l("One carer in overlapping visits"),
    FlagRule.SHARED_DEVICE: _l("One device used for many carers' check-ins"),
    FlagRule.SHARED_PLACE: _l("One place used for many carers' check-ins"),
    FlagRule.SAME_PHOTO: _l("The same photo on different visits"),
    FlagRule.BURST_CLOSURES: _l("Many visits closed within minutes from one place"),
}


class VisitFlag(db.Model):
    """An anomaly found on a visit, with the evidence the rule saw."""

    __tablename__ = "visit_flag"
    __table_args__ = (
        sa.UniqueConstraint("booking_id", "rule"),
        sa.CheckConstraint(
            "cleared_at IS NULL OR (cleared_by_id IS NOT NULL AND clear_reason IS NOT NULL)",
            name="cleared_has_reason",
        ),
        sa.Index("ix_visit_flag_open", "cleared_at", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), index=True)
    rule: Mapped[FlagRule] = mapped_column(enum_column(FlagRule, "flag_rule"))
    evidence: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    clear_reason: Mapped[str | None] = mapped_column(sa.Text)

    booking: Mapped[Booking] = relationship()

    @property
    def rule_label(self) -> str:
        return str(FLAG_RULE_LABELS[self.rule])
