"""Providers, their staff and qualification documents, listings and availability.

Statuses are explicit state machines (:class:`app.states.StateMachine`): the
allowed transitions are listed once (``PROVIDER_TRANSITIONS``,
``LISTING_TRANSITIONS``), and ``transition_to`` moves through
``PROVIDER_MACHINE`` / ``LISTING_MACHINE``, which refuse anything else with
:class:`app.errors.IllegalTransition` before writing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now, zone
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import Community, User
from app.states import StateMachine
from providers.carers.kinds import QualificationKind

# Sanity bounds: a listing priced outside them is a typing error, not a service.
MIN_PRICE_FEN = 100  # 1 yuan
MAX_PRICE_FEN = 5_000_000  # 50,000 yuan per visit or hour
MAX_SLOT_CAPACITY = 50
MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 12 * 60
MAX_RESPONSE_HOURS = 7 * 24


class CategoryKind(StrEnum):
    SERVICE = "service"
    INFRASTRUCTURE = "infrastructure"


class ServiceCategory(db.Model):
    """A category of service (Linli default list, seeded by a migration)."""

    __tablename__ = "service_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(40))
    name_en: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[CategoryKind] = mapped_column(enum_column(CategoryKind, "category_kind"))
    sort_order: Mapped[int] = mapped_column(default=0)
    # A carer assigned to a visit of this category must hold this qualification, valid on the
    # visit's day (providers.carers.assignment); None: no certificate is required.
    required_qualification: Mapped[QualificationKind | None] = mapped_column(
        enum_column(QualificationKind, "required_qualification")
    )

    @property
    def name(self) -> str:
        locale = get_locale()
        return self.name_en if locale is not None and locale.language == "en" else self.name_zh


class ProviderStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REMOVED = "removed"


PROVIDER_TRANSITIONS: dict[ProviderStatus, frozenset[ProviderStatus]] = {
    ProviderStatus.PENDING: frozenset({ProviderStatus.ACTIVE, ProviderStatus.REJECTED}),
    ProviderStatus.REJECTED: frozenset({ProviderStatus.PENDING}),
    ProviderStatus.ACTIVE: frozenset({ProviderStatus.SUSPENDED, ProviderStatus.REMOVED}),
    ProviderStatus.SUSPENDED: frozenset({ProviderStatus.ACTIVE, ProviderStatus.REMOVED}),
    ProviderStatus.REMOVED: frozenset(),
}

PROVIDER_STATUS_LABELS = {
    ProviderStatus.PENDING: _l("Pending review"),
    ProviderStatus.ACTIVE: _l("Active"),
    ProviderStatus.REJECTED: _l("Rejected"),
    ProviderStatus.SUSPENDED: _l("Suspended"),
    ProviderStatus.REMOVED: _l("Removed"),
}

PROVIDER_MACHINE = StateMachine(
    "provider", ProviderStatus, PROVIDER_TRANSITIONS,
    initial=ProviderStatus.PENDING, terminal={ProviderStatus.REMOVED}, labels=PROVIDER_STATUS_LABELS,
    message=lambda old, new: _l("A provider cannot go from %(old)s to %(new)s.", old=old, new=new),
)

provider_category = sa.Table(
    "provider_category",
    db.metadata,
    sa.Column("provider_id", sa.ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_id", sa.ForeignKey("service_category.id"), primary_key=True),
)

provider_community = sa.Table(
    "provider_community",
    db.metadata,
    sa.Column("provider_id", sa.ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("community_id", sa.ForeignKey("community.id"), primary_key=True),
)


# A removed provider's credit code may register again two calendar years after the removal.
REREGISTRATION_BAR_YEARS = 2


def reregistration_bar_end(removed_at: datetime, years: int = REREGISTRATION_BAR_YEARS) -> datetime:
    """The moment a credit code removed at ``removed_at`` may register again (UTC).

    The bar counts whole days in the community's zone (Asia/Shanghai): it runs
    from the removal's local day through the day before the same date ``years``
    later, and the code is free from 00:00 local time on that anniversary.
    Removed on 2024-03-15 (any hour): free from 2026-03-15 00:00.  A removal on
    29 February has no anniversary in a common year: the bar then runs through
    28 February and the code is free from 1 March (removed 2024-02-29: free
    from 2026-03-01 00:00), so the bar is never shorter than ``years`` years.
    """
    local_zone = zone()
    day = removed_at.astimezone(local_zone).date()
    try:
        free_on = day.replace(year=day.year + years)
    except ValueError:  # 29 February, and the target year is not a leap year
        free_on = date(day.year + years, 2, 28) + timedelta(days=1)
    return datetime.combine(free_on, time(0), tzinfo=local_zone).astimezone(timezone.utc)


class Provider(db.Model):
    """A service organisation, identified by its unified social credit code.

    **Suspension has one meaning**: a provider takes new bookings at ``t``
    (:meth:`takes_bookings_at`) when an official vetted it active and no
    supervision suspension runs at ``t``.  There are two ways to be suspended,
    and both mean "no new bookings, listings hidden":

    - an official's vetting suspension (status *suspended*, ``providers/vetting.py``),
      which lasts until an official reinstates the provider;
    - a supervision sanction (``providers/sanctions.py``), which stores
      ``suspended_until`` and lifts itself when the clock passes it (no job).

    The catalogue, the public page and the booking refusal all ask
    :meth:`takes_bookings_at` (its SQL twin filters rows, the way
    digitalmarketplace's ``Brief.status`` does), never the two columns.
    """

    __tablename__ = "provider"
    __table_args__ = (
        # One live organisation per credit code.  A removed provider keeps its code
        # (the audit trail and old bookings name it) but no longer holds it: once
        # the re-registration bar has ended (providers/registration.py, which also
        # refuses a code under a running bar) the organisation may register again.
        # Partial: the bar depends on the clock, uniqueness of the live ones does not.
        sa.Index(
            "uq_provider_credit_code_live",
            "credit_code",
            unique=True,
            postgresql_where=sa.text("status <> 'removed'"),
            sqlite_where=sa.text("status <> 'removed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    credit_code: Mapped[str] = mapped_column(sa.String(18))
    legal_representative: Mapped[str] = mapped_column(sa.String(60))
    contact_name: Mapped[str] = mapped_column(sa.String(60))
    contact_phone: Mapped[str] = mapped_column(sa.String(20))
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ProviderStatus] = mapped_column(
        enum_column(ProviderStatus, "provider_status"), default=ProviderStatus.PENDING, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    # Supervision sanctions (providers/sanctions.py): a suspension lifts itself when
    # the clock passes ``suspended_until`` (read it through ``takes_bookings_at``);
    # a removal bars the credit code until ``reregistration_barred_until``
    # (:func:`reregistration_bar_end`).
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reregistration_barred_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    categories: Mapped[list[ServiceCategory]] = relationship(
        secondary=provider_category, order_by=ServiceCategory.sort_order
    )
    communities: Mapped[list[Community]] = relationship(
        secondary=provider_community, order_by=Community.name
    )
    documents: Mapped[list[QualificationDocument]] = relationship(
        back_populates="provider", order_by="QualificationDocument.uploaded_at"
    )

    @property
    def status_label(self) -> str:
        return str(PROVIDER_STATUS_LABELS[self.status])

    @property
    def is_active(self) -> bool:
        """Vetted and active (an official's suspension, a rejection or a removal is not)."""
        return self.status == ProviderStatus.ACTIVE

    @hybrid_method
    def takes_bookings_at(self, at: datetime) -> bool:
        """Whether the provider takes new bookings at ``at``: active, and no supervision
        suspension running (one that ends at ``at`` has ended)."""
        return self.is_active and self.suspension_ends_after(at) is None

    @takes_bookings_at.expression
    def takes_bookings_at(cls, at: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            cls.status == ProviderStatus.ACTIVE,
            sa.or_(cls.suspended_until.is_(None), cls.suspended_until <= at),
        )

    def suspension_ends_after(self, at: datetime) -> datetime | None:
        """The end of the supervision suspension running at ``at``, or None (none runs;
        an official's suspension has no end: it lasts until a reinstatement)."""
        until = self.suspended_until
        return until if until is not None and at < until else None

    @classmethod
    def next_resumption_after(cls, at: datetime) -> sa.ScalarSelect:
        """The first moment after ``at`` at which :meth:`takes_bookings_at` changes by
        itself for some provider (a supervision suspension ends; NULL if none will).
        The index on ``suspended_until`` serves it."""
        return sa.select(sa.func.min(cls.suspended_until)).where(cls.suspended_until > at).scalar_subquery()

    def transition_to(self, new: ProviderStatus) -> ProviderStatus:
        """Move to ``new`` if the state machine allows it; return the old status."""
        return PROVIDER_MACHINE.move(self, new)


class ProviderStaff(db.Model):
    """A user who works for exactly one provider."""

    __tablename__ = "provider_staff"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    is_owner: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()
    provider: Mapped[Provider] = relationship()


class DocumentKind(StrEnum):
    BUSINESS_LICENCE = "business_licence"
    SERVICE_QUALIFICATION = "service_qualification"
    HEALTH_CERTIFICATE = "health_certificate"
    LIABILITY_INSURANCE = "liability_insurance"
    OTHER = "other"
    MEDICAL_LICENCE = "medical_licence"


DOCUMENT_KIND_LABELS = {
    DocumentKind.BUSINESS_LICENCE: _l("Business licence"),
    DocumentKind.SERVICE_QUALIFICATION: _l("Service qualification"),
    DocumentKind.HEALTH_CERTIFICATE: _l("Staff health certificate"),
    DocumentKind.LIABILITY_INSURANCE: _l("Liability insurance"),
    DocumentKind.OTHER: _l("Other"),
    DocumentKind.MEDICAL_LICENCE: _l("Medical practice licence"),
}

# The one home of "which categories need a qualification": a provider may hold a
# category (registration approved, or a change request approved) only with a valid
# (unexpired, in force or presented with the request) document of this kind.
# Read through :func:`required_document`; providers/vetting.py and
# providers/registration.py check it, the forms and pages show it.
REQUIRED_DOCUMENTS: dict[str, DocumentKind] = {
    "home_medical": DocumentKind.MEDICAL_LICENCE,  # 上门医疗: 医疗机构执业许可证
    "home_care": DocumentKind.SERVICE_QUALIFICATION,  # 居家照护: elder care
    "day_care": DocumentKind.SERVICE_QUALIFICATION,  # 日间照料: elder care
}


def required_document(category: ServiceCategory) -> DocumentKind | None:
    """The kind of document a provider needs to offer ``category`` (None: no qualification)."""
    return REQUIRED_DOCUMENTS.get(category.code)


class QualificationDocument(db.Model):
    """An uploaded qualification document, stored outside the web root."""

    __tablename__ = "qualification_document"
    __table_args__ = (sa.CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, "document_kind"))
    original_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    expires_on: Mapped[date] = mapped_column(sa.Date)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    # A document an approved provider uploads is part of its change request
    # (:class:`ProviderChange`) and not in force until an official approves that
    # change: the approval clears this column.  A rejected change keeps it, so the
    # document never comes into force.  NULL: in force (documents of a provider
    # still under its first review are reviewed with the registration).
    change_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider_change.id"), index=True)

    provider: Mapped[Provider] = relationship(back_populates="documents")
    change: Mapped[ProviderChange | None] = relationship(back_populates="documents")

    @property
    def kind_label(self) -> str:
        return str(DOCUMENT_KIND_LABELS[self.kind])

    @property
    def in_force(self) -> bool:
        return self.change_id is None

    def is_expired(self, on: date) -> bool:
        return self.expires_on < on


class ChangeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


CHANGE_TRANSITIONS: dict[ChangeStatus, frozenset[ChangeStatus]] = {
    ChangeStatus.PENDING: frozenset({ChangeStatus.APPROVED, ChangeStatus.REJECTED, ChangeStatus.WITHDRAWN}),
    ChangeStatus.APPROVED: frozenset(),
    ChangeStatus.REJECTED: frozenset(),
    ChangeStatus.WITHDRAWN: frozenset(),
}

CHANGE_STATUS_LABELS = {
    ChangeStatus.PENDING: _l("Waiting for review"),
    ChangeStatus.APPROVED: _l("Approved"),
    ChangeStatus.REJECTED: _l("Rejected"),
    ChangeStatus.WITHDRAWN: _l("Withdrawn"),
}

CHANGE_MACHINE = StateMachine(
    "provider_change", ChangeStatus, CHANGE_TRANSITIONS,
    initial=ChangeStatus.PENDING,
    terminal={ChangeStatus.APPROVED, ChangeStatus.REJECTED, ChangeStatus.WITHDRAWN},
    labels=CHANGE_STATUS_LABELS,
    message=lambda old, new: _l("This change request is already %(old)s.", old=old),
)

# The details officials vet.  An approved provider's change to any of them (and
# any document it uploads) is a ProviderChange; until an official approves it the
# provider row keeps the old values, so the catalogue, the public page, the
# listings and the API go on showing and using them.  (The credit code names the
# organisation: an approved one cannot change it at all, providers/registration.py.)
VETTED_FIELDS = ("name", "legal_representative", "categories")


class ProviderChange(db.Model):
    """An approved provider's request to change what officials vetted.

    ``proposed`` holds only the vetted fields the request changes (``name``,
    ``legal_representative``: text; ``categories``: category codes), ``before``
    their values in force when it was last edited; its documents are the
    :class:`QualificationDocument` rows that point at it.  Nothing of it is in
    force until an official approves it (providers/vetting.py).
    """

    __tablename__ = "provider_change"
    __table_args__ = (
        # One open request per provider: a second edit amends it, so an official
        # never approves an outdated proposal beside a newer one.
        sa.Index(
            "uq_provider_change_pending",
            "provider_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    status: Mapped[ChangeStatus] = mapped_column(
        enum_column(ChangeStatus, "provider_change_status"), default=ChangeStatus.PENDING
    )
    proposed: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    before: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    documents: Mapped[list[QualificationDocument]] = relationship(
        back_populates="change", order_by="QualificationDocument.uploaded_at"
    )

    @property
    def status_label(self) -> str:
        return str(CHANGE_STATUS_LABELS[self.status])

    def transition_to(self, new: ChangeStatus) -> ChangeStatus:
        return CHANGE_MACHINE.move(self, new)


class ListingStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"
    ARCHIVED = "archived"


LISTING_TRANSITIONS: dict[ListingStatus, frozenset[ListingStatus]] = {
    ListingStatus.DRAFT: frozenset({ListingStatus.PUBLISHED, ListingStatus.ARCHIVED}),
    ListingStatus.PUBLISHED: frozenset({ListingStatus.PAUSED, ListingStatus.ARCHIVED}),
    ListingStatus.PAUSED: frozenset({ListingStatus.PUBLISHED, ListingStatus.ARCHIVED}),
    ListingStatus.ARCHIVED: frozenset(),
}

LISTING_STATUS_LABELS = {
    ListingStatus.DRAFT: _l("Draft"),
    ListingStatus.PUBLISHED: _l("Published"),
    ListingStatus.PAUSED: _l("Paused"),
    ListingStatus.ARCHIVED: _l("Archived"),
}

LISTING_MACHINE = StateMachine(
    "listing", ListingStatus, LISTING_TRANSITIONS,
    initial=ListingStatus.DRAFT, terminal={ListingStatus.ARCHIVED}, labels=LISTING_STATUS_LABELS,
    message=lambda old, new: _l("A listing cannot go from %(old)s to %(new)s.", old=old, new=new),
)


class PricingUnit(StrEnum):
    PER_VISIT = "per_visit"
    PER_HOUR = "per_hour"


PRICING_UNIT_LABELS = {PricingUnit.PER_VISIT: _l("per visit"), PricingUnit.PER_HOUR: _l("per hour")}

listing_community = sa.Table(
    "listing_community",
    db.metadata,
    # community first: the catalogue filters listings by community.
    sa.Column("community_id", sa.ForeignKey("community.id"), primary_key=True),
    sa.Column("listing_id", sa.ForeignKey("listing.id", ondelete="CASCADE"), primary_key=True),
)


class Listing(db.Model):
    """A service a provider offers, at a price, in some communities."""

    __tablename__ = "listing"
    __table_args__ = (
        sa.CheckConstraint(
            f"price_fen BETWEEN {MIN_PRICE_FEN} AND {MAX_PRICE_FEN}", name="price_in_range"
        ),
        sa.CheckConstraint(
            f"duration_minutes BETWEEN {MIN_DURATION_MINUTES} AND {MAX_DURATION_MINUTES}",
            name="duration_in_range",
        ),
        sa.CheckConstraint(
            f"response_hours BETWEEN 1 AND {MAX_RESPONSE_HOURS}", name="response_in_range"
        ),
        sa.CheckConstraint("rating_count >= 0 AND rating_sum >= 0", name="rating_nonnegative"),
        # The catalogue: published listings by price, and the substring search.
        sa.Index("ix_listing_status_price", "status", "price_fen"),
        sa.Index(
            "ix_listing_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            info={"only_dialect": "postgresql"},
        ).ddl_if(dialect="postgresql"),
        # Terms of one or two characters (providers/catalogue.py; function in migration 0008).
        sa.Index(
            "ix_listing_search_grams",
            sa.func.linli_search_grams(sa.text("search_text")),
            postgresql_using="gin",
            info={"only_dialect": "postgresql"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("service_category.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text)
    price_fen: Mapped[int] = mapped_column()
    pricing_unit: Mapped[PricingUnit] = mapped_column(enum_column(PricingUnit, "pricing_unit"))
    duration_minutes: Mapped[int] = mapped_column()
    response_hours: Mapped[int] = mapped_column()
    status: Mapped[ListingStatus] = mapped_column(
        enum_column(ListingStatus, "listing_status"), default=ListingStatus.DRAFT
    )
    version: Mapped[int] = mapped_column(default=1)
    # The tasks a carer ticks at check-out (short names the provider defines; at most
    # providers.listings.MAX_CHECKLIST items): the visit's service log.
    checklist: Mapped[list] = mapped_column(sa.JSON, default=list, server_default=sa.text("'[]'"))
    # Lower-cased title + description: the catalogue's substring search runs on
    # it (trigram GIN index on PostgreSQL; works for Chinese, which has no spaces).
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    # Maintained by the ratings domain when a rating is published or hidden.
    rating_sum: Mapped[int] = mapped_column(default=0)
    rating_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider] = relationship()
    category: Mapped[ServiceCategory] = relationship()
    communities: Mapped[list[Community]] = relationship(
        secondary=listing_community, order_by=Community.name
    )
    availability: Mapped[list[AvailabilityWindow]] = relationship(
        back_populates="listing",
        cascade="all, delete-orphan",
        order_by="(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)",
    )

    @property
    def status_label(self) -> str:
        return str(LISTING_STATUS_LABELS[self.status])

    @property
    def pricing_unit_label(self) -> str:
        return str(PRICING_UNIT_LABELS[self.pricing_unit])

    def transition_to(self, new: ListingStatus) -> ListingStatus:
        """Move to ``new`` if the state machine allows it; return the old status."""
        return LISTING_MACHINE.move(self, new)


class CatalogueGeneration(db.Model):
    """One row whose value moves on in every transaction that changes what the
    catalogue shows (providers/catalogue_cache.py): cached searches are keyed by it."""

    __tablename__ = "catalogue_generation"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class AvailabilityWindow(db.Model):
    """A weekly window in which the listing can be booked.

    The window is cut into slots of the listing's duration; each slot takes at
    most ``capacity`` bookings.  Weekday 0 is Monday; minutes count from local
    midnight in the community's time zone.
    """

    __tablename__ = "availability_window"
    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_valid"),
        sa.CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
            name="window_valid",
        ),
        sa.CheckConstraint(f"capacity BETWEEN 1 AND {MAX_SLOT_CAPACITY}", name="capacity_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        sa.ForeignKey("listing.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    start_minute: Mapped[int] = mapped_column(sa.SmallInteger)
    end_minute: Mapped[int] = mapped_column(sa.SmallInteger)
    capacity: Mapped[int] = mapped_column(sa.SmallInteger)

    listing: Mapped[Listing] = relationship(back_populates="availability")


class ListingVersion(db.Model):
    """A snapshot of a listing as it was before an edit (its history)."""

    __tablename__ = "listing_version"
    __table_args__ = (sa.UniqueConstraint("listing_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    snapshot: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
