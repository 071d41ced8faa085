"""Ratings of completed bookings, and residents' complaints.

One rating per booking (unique in the database), scores 1–5 (CHECKs): the overall
score is required (the public average and the scorecard read it), the detailed
scores (timeliness, quality, attitude) are optional (NULL when not given).  Quick
tags (:class:`RatingTagCode`, fixed codes with a label each) are rows of
``rating_tag``, one per tag chosen (a CHECK keeps the codes to the known ones).  A hidden
rating stays stored and audited; it only leaves the public average.  A
complaint has a response deadline for the provider (48 hours) and ends upheld
or dismissed by an official, with a reason.
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
from app.states import StateMachine
from providers.bookings.models import Booking

SCORE_CHECK = "BETWEEN 1 AND 5"


class Rating(db.Model):
    __tablename__ = "rating"
    __table_args__ = (
        sa.UniqueConstraint("booking_id"),  # a booking is rated once
        sa.CheckConstraint(f"overall {SCORE_CHECK}", name="overall_range"),
        sa.CheckConstraint(f"timeliness {SCORE_CHECK}", name="timeliness_range"),
        sa.CheckConstraint(f"quality {SCORE_CHECK}", name="quality_range"),
        sa.CheckConstraint(f"attitude {SCORE_CHECK}", name="attitude_range"),
        sa.Index("ix_rating_provider_created", "provider_id", "created_at"),
        sa.Index("ix_rating_listing", "listing_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"))
    overall: Mapped[int] = mapped_column(sa.SmallInteger)
    # Optional detailed scores (NULL: not given; the CHECKs let NULL through).
    timeliness: Mapped[int | None] = mapped_column(sa.SmallInteger)
    quality: Mapped[int | None] = mapped_column(sa.SmallInteger)
    attitude: Mapped[int | None] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reply: Mapped[str | None] = mapped_column(sa.Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    hidden_reason: Mapped[str | None] = mapped_column(sa.Text)

    booking: Mapped[Booking] = relationship()
    resident: Mapped[User] = relationship(foreign_keys=[resident_id])
    # Loaded with the rating in one more query per page (selectin), in the order of the codes.
    tag_rows: Mapped[list[RatingTag]] = relationship(back_populates="rating", lazy="selectin",
                                                     cascade="all, delete-orphan", order_by="RatingTag.code")

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def tags(self) -> list[RatingTagCode]:
        """The quick tags chosen, positive ones first, each in the order of :class:`RatingTagCode`."""
        chosen = {row.code for row in self.tag_rows}
        return [code for code in RatingTagCode if code in chosen]


class RatingTagCode(StrEnum):
    """The quick tags a resident may tick: fixed codes (stored), labels translated when shown."""

    PUNCTUAL = "punctual"
    PROFESSIONAL = "professional"
    FRIENDLY = "friendly"
    PATIENT = "patient"
    TIDY = "tidy"
    CLEAR = "clear"
    LATE = "late"
    CARELESS = "careless"
    IMPOLITE = "impolite"

    @property
    def positive(self) -> bool:
        return self not in NEGATIVE_TAGS

    @property
    def label(self) -> str:
        return str(RATING_TAG_LABELS[self])


NEGATIVE_TAGS = frozenset({RatingTagCode.LATE, RatingTagCode.CARELESS, RatingTagCode.IMPOLITE})

RATING_TAG_LABELS = {
    RatingTagCode.PUNCTUAL: _l("On time"),
    RatingTagCode.PROFESSIONAL: _l("Professional"),
    RatingTagCode.FRIENDLY: _l("Friendly"),
    RatingTagCode.PATIENT: _l("Patient"),
    RatingTagCode.TIDY: _l("Clean and tidy"),
    RatingTagCode.CLEAR: _l("Explains clearly"),
    RatingTagCode.LATE: _l("Came late"),
    RatingTagCode.CARELESS: _l("Careless work"),
    RatingTagCode.IMPOLITE: _l("Impolite"),
}

TAG_CHECK = "code IN ({})".format(", ".join(f"'{code.value}'" for code in RatingTagCode))


class RatingTag(db.Model):
    """One quick tag of a rating (a rating has each tag at most once: the primary key)."""

    __tablename__ = "rating_tag"
    __table_args__ = (
        sa.CheckConstraint(TAG_CHECK, name="code_known"),
    )

    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("rating.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)

    rating: Mapped[Rating] = relationship(back_populates="tag_rows")


class ComplaintKind(StrEnum):
    LATE = "late"
    NO_SHOW = "no_show"
    POOR_QUALITY = "poor_quality"
    OVERCHARGE = "overcharge"
    MISCONDUCT = "misconduct"
    SAFETY = "safety"


COMPLAINT_KIND_LABELS = {
    ComplaintKind.LATE: _l("Late"),
    ComplaintKind.NO_SHOW: _l("Did not come"),
    ComplaintKind.POOR_QUALITY: _l("Poor quality"),
    ComplaintKind.OVERCHARGE: _l("Overcharged"),
    ComplaintKind.MISCONDUCT: _l("Misconduct"),
    ComplaintKind.SAFETY: _l("Safety"),
}


class ComplaintStatus(StrEnum):
    OPEN = "open"
    RESPONDED = "responded"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


COMPLAINT_STATUS_LABELS = {
    ComplaintStatus.OPEN: _l("Waiting for the provider's response"),
    ComplaintStatus.RESPONDED: _l("Provider responded; waiting for a decision"),
    ComplaintStatus.UPHELD: _l("Upheld"),
    ComplaintStatus.DISMISSED: _l("Dismissed"),
}

COMPLAINT_TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.OPEN: frozenset(
        {ComplaintStatus.RESPONDED, ComplaintStatus.UPHELD, ComplaintStatus.DISMISSED}
    ),
    ComplaintStatus.RESPONDED: frozenset({ComplaintStatus.UPHELD, ComplaintStatus.DISMISSED}),
    ComplaintStatus.UPHELD: frozenset(),
    ComplaintStatus.DISMISSED: frozenset(),
}

COMPLAINT_MACHINE = StateMachine(
    "complaint", ComplaintStatus, COMPLAINT_TRANSITIONS,
    initial=ComplaintStatus.OPEN, terminal={ComplaintStatus.UPHELD, ComplaintStatus.DISMISSED},
    labels=COMPLAINT_STATUS_LABELS,
    message=lambda old, new: _l("This complaint is already “%(old)s”; it cannot become “%(new)s”.",
                                old=old, new=new),
)


class Complaint(db.Model):
    __tablename__ = "complaint"
    __table_args__ = (
        sa.Index("ix_complaint_status_created", "status", "created_at"),
        sa.Index("ix_complaint_provider_decided", "provider_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    kind: Mapped[ComplaintKind] = mapped_column(enum_column(ComplaintKind, "complaint_kind"))
    description: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ComplaintStatus] = mapped_column(
        enum_column(ComplaintStatus, "complaint_status"), default=ComplaintStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime)
    response: Mapped[str | None] = mapped_column(sa.Text)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    booking: Mapped[Booking] = relationship()
    photos: Mapped[list[ComplaintPhoto]] = relationship(back_populates="complaint")

    @property
    def kind_label(self) -> str:
        return str(COMPLAINT_KIND_LABELS[self.kind])

    @property
    def status_label(self) -> str:
        return str(COMPLAINT_STATUS_LABELS[self.status])


class ComplaintPhoto(db.Model):
    """A photo attached to a complaint (JPEG/PNG, sniffed, stored outside the web root)."""

    __tablename__ = "complaint_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(sa.ForeignKey("complaint.id"), index=True)
    original_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    complaint: Mapped[Complaint] = relationship(back_populates="photos")


# Notifications store complaint codes; show them in the reader's language.
# Parameters stored as codes, shown as labels (registered by the package's init_app).
NOTIFICATION_LABELS = {"complaint_kind": {kind.value: label for kind, label in COMPLAINT_KIND_LABELS.items()},
                       "outcome": {status.value: label for status, label in COMPLAINT_STATUS_LABELS.items()}}
