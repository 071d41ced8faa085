"""Listings: create, edit (each save is a new version), publish, pause, archive.

Only an active (approved) provider may create, edit or publish; a listing's
history is every saved version (``ListingVersion``) plus the status changes in
the audit trail.  Functions take a session, flush and never commit.

A listing is only ever in a category the provider holds *in force* (approved
by an official: ``Provider.categories``); a category that waits in the
provider's change request is not one yet.  :func:`check_category` is the one
place that says so: saving refuses such a listing (422), and publishing one
(say, after an approved change dropped its category) is refused (409).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, object_session, selectinload

from app import audit
from app.audit import AuditEvent
from app.clock import now
from app.errors import Conflict, Invalid, NotFound, Problems
from app.models import User
from providers import listing_photos
from providers.models import (
    LISTING_MACHINE,
    MAX_DURATION_MINUTES,
    MAX_PRICE_FEN,
    MAX_RESPONSE_HOURS,
    MAX_SLOT_CAPACITY,
    MIN_DURATION_MINUTES,
    MIN_PRICE_FEN,
    AvailabilityWindow,
    ChangeStatus,
    Listing,
    ListingStatus,
    ListingVersion,
    PricingUnit,
    Provider,
    ProviderChange,
    ProviderStatus,
    ServiceCategory,
)


@dataclass(frozen=True)
class Window:
    weekday: int
    start_minute: int
    end_minute: int
    capacity: int


@dataclass
class ListingInput:
    category_id: int | None
    title: str
    description: str
    price_fen: int | None
    pricing_unit: str
    duration_minutes: int | None
    response_hours: int | None
    community_ids: list[int] = field(default_factory=list)
    availability: list[Window] = field(default_factory=list)
    # The tasks a carer ticks at check-out (the visit's service log); None keeps the saved ones.
    checklist: list[str] | None = None
    # Photos to add (uploaded files: ``.stream`` and ``.filename``); providers/listing_photos.py checks them.
    photos: list = field(default_factory=list)


MAX_CHECKLIST = 12
MAX_TASK_CHARS = 40


def clean_checklist(lines) -> list[str]:
    """A checklist from the form: one short task per line, blanks and repeats dropped, at most
    :data:`MAX_CHECKLIST` tasks of :data:`MAX_TASK_CHARS` characters (a phone screen's worth);
    Invalid on "checklist" otherwise."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    items: list[str] = []
    for line in lines or ():
        task = " ".join(str(line).split())
        if not task or task in items:
            continue
        if len(task) > MAX_TASK_CHARS:
            raise Invalid(_l("Each task is at most %(n)d characters.", n=MAX_TASK_CHARS), field="checklist")
        items.append(task)
    if len(items) > MAX_CHECKLIST:
        raise Invalid(_l("A checklist has at most %(n)d tasks.", n=MAX_CHECKLIST), field="checklist")
    return items


def _check_windows(windows: list[Window], duration: int | None) -> list[Window]:
    """The windows in order; Invalid on "availability" for the first thing wrong with them
    (their length is checked against ``duration`` only when that is known)."""
    if not windows:
        raise Invalid(_l("Add at least one weekly time window."), field="availability")
    for w in windows:
        if not 0 <= w.weekday <= 6:
            raise Invalid(_l("Choose a day of the week."), field="availability")
        if not (0 <= w.start_minute < w.end_minute <= 24 * 60):
            raise Invalid(_l("A time window must end after it starts, on the same day."), field="availability")
        if duration is not None and w.end_minute - w.start_minute < duration:
            raise Invalid(
                _l("A time window must be at least as long as the service (%(n)d minutes).", n=duration),
                field="availability",
            )
        if not 1 <= w.capacity <= MAX_SLOT_CAPACITY:
            raise Invalid(
                _l("Capacity per slot must be between 1 and %(n)d.", n=MAX_SLOT_CAPACITY),
                field="availability",
            )
    ordered = sorted(windows, key=lambda w: (w.weekday, w.start_minute))
    for a, b in zip(ordered, ordered[1:]):
        if a.weekday == b.weekday and b.start_minute < a.end_minute:
            raise Invalid(_l("Two time windows on the same day overlap."), field="availability")
    return ordered


def _checked(problems: Problems, check, *args):
    """``check(*args)``, or None with its refusal added to ``problems``."""
    try:
        return check(*args)
    except Invalid as error:
        problems.extend(error)
        return None


def _check_title(value: str) -> str:
    title = (value or "").strip()
    if not title:
        raise Invalid(_l("Give the service a title."), field="title")
    if len(title) > 120:
        raise Invalid(_l("The title is too long (120 characters at most)."), field="title")
    return title


def _check_description(value: str) -> str:
    description = (value or "").strip()
    if not description:
        raise Invalid(_l("Describe the service."), field="description")
    if len(description) > 4000:
        raise Invalid(_l("The description is too long (4000 characters at most)."), field="description")
    return description


def _check_category(session: Session, provider: Provider, category_id: int | None) -> ServiceCategory:
    category = session.get(ServiceCategory, category_id) if category_id else None
    if category is None:
        raise Invalid(_l("Choose a service category from the list."), field="category_id")
    check_category(provider, category, Invalid)
    return category


def _check_price(price_fen: int | None) -> int:
    if price_fen is None or not MIN_PRICE_FEN <= price_fen <= MAX_PRICE_FEN:
        raise Invalid(
            _l(
                "The price must be between ¥%(low)s and ¥%(high)s.",
                low=f"{MIN_PRICE_FEN / 100:,.2f}",
                high=f"{MAX_PRICE_FEN / 100:,.2f}",
            ),
            field="price_fen",
        )
    return price_fen


def _check_unit(value: str) -> PricingUnit:
    try:
        return PricingUnit(value)
    except ValueError:
        raise Invalid(_l("Choose per visit or per hour."), field="pricing_unit") from None


def _check_duration(duration: int | None) -> int:
    if duration is None or not MIN_DURATION_MINUTES <= duration <= MAX_DURATION_MINUTES:
        raise Invalid(
            _l(
                "The duration must be between %(low)d and %(high)d minutes.",
                low=MIN_DURATION_MINUTES,
                high=MAX_DURATION_MINUTES,
            ),
            field="duration_minutes",
        )
    return duration


def _check_hours(hours: int | None) -> int:
    if hours is None or not 1 <= hours <= MAX_RESPONSE_HOURS:
        raise Invalid(
            _l("The promised response time must be between 1 and %(n)d hours.", n=MAX_RESPONSE_HOURS),
            field="response_hours",
        )
    return hours


def _check_communities(provider: Provider, community_ids) -> list:
    served = {c.id: c for c in provider.communities}
    ids = sorted(set(community_ids or []))
    if not ids:
        raise Invalid(_l("Choose at least one community."), field="community_ids")
    if any(i not in served for i in ids):
        raise Invalid(
            _l("You can only offer a listing in communities your organisation serves."),
            field="community_ids",
        )
    return [served[i] for i in ids]


def check_input(session: Session, provider: Provider, data: ListingInput, *, skip: Collection[str] = (),
                photo_count: int = 0) -> dict:
    """The listing's values, checked; every problem at once (:class:`~app.errors.Problems`).

    Each field is checked on its own, so a form shows what is wrong with the title, the
    price and the category together.  ``skip`` names fields the form has already refused
    (a price it could not read): they are not checked again.  The photos are checked
    (decoded, resized: nothing is written) against the ``photo_count`` already kept.
    """
    problems = Problems()
    checks = {
        "title": (_check_title, data.title),
        "description": (_check_description, data.description),
        "category_id": (_check_category, session, provider, data.category_id),
        "price_fen": (_check_price, data.price_fen),
        "pricing_unit": (_check_unit, data.pricing_unit),
        "duration_minutes": (_check_duration, data.duration_minutes),
        "response_hours": (_check_hours, data.response_hours),
        "community_ids": (_check_communities, provider, data.community_ids),
        "availability": (_check_windows, list(data.availability), data.duration_minutes),
        "checklist": (clean_checklist, data.checklist),
        "photos": (listing_photos.prepare_all, data.photos, photo_count),
    }
    values = {}
    for name, (check, *args) in checks.items():
        if name in skip or (name == "checklist" and data.checklist is None):
            values[name] = None
        else:
            values[name] = _checked(problems, check, *args)
    problems.raise_if_any()
    return values


def _validate(session: Session, provider: Provider, data: ListingInput, photo_count: int = 0) -> dict:
    values = check_input(session, provider, data, photo_count=photo_count)
    return {
        "category_id": values["category_id"].id,
        "title": values["title"],
        "description": values["description"],
        "price_fen": values["price_fen"],
        "pricing_unit": values["pricing_unit"],
        "duration_minutes": values["duration_minutes"],
        "response_hours": values["response_hours"],
        "communities": values["community_ids"],
        "windows": values["availability"],
        "checklist": values["checklist"],
        "photos": values["photos"] or [],
    }


def check_category(provider: Provider, category: ServiceCategory, error=Conflict) -> None:
    """Raise ``error`` unless an official approved ``provider`` for ``category``."""
    if category.id in {c.id for c in provider.categories}:
        return
    waiting = session_change_categories(provider)
    if category.code in waiting:
        raise error(
            _l(
                "Your organisation is not approved for %(category)s yet: the district is reviewing your "
                "change request. You can list services in it once the change is approved.",
                category=category.name,
            ),
            field="category_id",
        )
    raise error(
        _l("Your organisation is not registered for this category (%(category)s).", category=category.name),
        field="category_id",
    )


def session_change_categories(provider: Provider) -> set[str]:
    """Codes of the categories the provider's open change request asks for."""
    session = object_session(provider)
    if session is None:
        return set()
    proposed = session.scalar(
        sa.select(ProviderChange.proposed).where(
            ProviderChange.provider_id == provider.id, ProviderChange.status == ChangeStatus.PENDING)
    )
    return set((proposed or {}).get("categories") or [])


def require_active(provider: Provider) -> None:
    """Raise Conflict unless the provider is active (approved, not suspended)."""
    if provider.status != ProviderStatus.ACTIVE:
        raise Conflict(_l("Your organisation must be approved (active) to manage listings."))


def check_editable(listing: Listing) -> None:
    """Raise Conflict if the listing cannot be edited now (provider not active, archived)."""
    require_active(listing.provider)
    if listing.status == ListingStatus.ARCHIVED:
        raise Conflict(_l("An archived listing cannot be changed."))


def snapshot(listing: Listing) -> dict:
    return {
        "version": listing.version,
        "status": listing.status.value,
        "category_id": listing.category_id,
        "title": listing.title,
        "description": listing.description,
        "price_fen": listing.price_fen,
        "pricing_unit": listing.pricing_unit.value,
        "duration_minutes": listing.duration_minutes,
        "response_hours": listing.response_hours,
        "checklist": list(listing.checklist or []),
        "communities": [c.id for c in listing.communities],
        "availability": [
            [w.weekday, w.start_minute, w.end_minute, w.capacity] for w in listing.availability
        ],
    }


def _save_version(session: Session, listing: Listing, actor: User) -> None:
    session.flush()
    session.add(
        ListingVersion(
            listing_id=listing.id,
            version=listing.version,
            snapshot=snapshot(listing),
            created_at=now(),
            created_by_id=actor.id,
        )
    )
    session.flush()


def _assign(listing: Listing, values: dict) -> None:
    for key in ("category_id", "title", "description", "price_fen", "pricing_unit",
                "duration_minutes", "response_hours"):
        setattr(listing, key, values[key])
    listing.communities = values["communities"]
    listing.availability = [
        AvailabilityWindow(weekday=w.weekday, start_minute=w.start_minute,
                           end_minute=w.end_minute, capacity=w.capacity)
        for w in values["windows"]
    ]
    if values["checklist"] is not None:
        listing.checklist = values["checklist"]
    elif listing.checklist is None:
        listing.checklist = []
    listing.search_text = f"{listing.title}\n{listing.description}".lower()


def create_listing(session: Session, provider: Provider, data: ListingInput, *, actor: User) -> Listing:
    """A new listing, as a draft (version 1)."""
    require_active(provider)
    values = _validate(session, provider, data)
    listing = Listing(provider_id=provider.id, status=ListingStatus.DRAFT, version=1)
    _assign(listing, values)
    session.add(listing)
    _save_version(session, listing, actor)
    listing_photos.store_all(session, listing, values["photos"], actor=actor)
    audit.record(session, actor=actor, action="listing.created", object_type="listing",
                 object_id=listing.id, after=snapshot(listing))
    return listing


def update_listing(
    session: Session,
    listing: Listing,
    data: ListingInput,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Listing:
    """Save changes as a new version; earlier versions stay in the history.

    ``expected_version`` is the version the editor started from: if someone
    saved in between, refuse (Conflict) instead of silently overwriting.
    """
    check_editable(listing)
    if expected_version is not None and expected_version != listing.version:
        raise Conflict(
            _l(
                "Someone else saved this listing while you were editing it (now version %(n)d). "
                "Reload the page and make your changes again.",
                n=listing.version,
            )
        )
    values = _validate(session, listing.provider, data, listing_photos.count_of(session, listing))
    before = snapshot(listing)
    _assign(listing, values)
    listing.version += 1
    _save_version(session, listing, actor)
    listing_photos.store_all(session, listing, values["photos"], actor=actor)
    audit.record(session, actor=actor, action="listing.updated", object_type="listing",
                 object_id=listing.id, before=before, after=snapshot(listing))
    return listing


def change_status(session: Session, listing: Listing, new: ListingStatus | str, *, actor: User) -> None:
    try:
        new = ListingStatus(new)
    except ValueError:
        raise Invalid(_l("Unknown listing status."), field="status") from None
    if new == ListingStatus.PUBLISHED:
        require_active(listing.provider)
        check_category(listing.provider, listing.category)
    old = listing.transition_to(new)
    if new == ListingStatus.PUBLISHED and listing.published_at is None:
        listing.published_at = now()
    session.flush()
    audit.record(session, actor=actor, action=f"listing.{new.value}", object_type="listing",
                 object_id=listing.id, before={"status": old}, after={"status": new})


def own_listing(session: Session, provider: Provider, listing_id: int, *, for_update: bool = False) -> Listing:
    """A listing of this provider; 404 for any other listing (no IDOR).

    ``for_update`` locks the row (PostgreSQL) so two saves of the same listing
    run one after the other and the second sees the first's version.
    """
    listing = session.get(Listing, listing_id, with_for_update=for_update or None)
    if listing is None or listing.provider_id != provider.id:
        raise NotFound(_l("No such listing."))
    return listing


# The provider's own list: what is live first, archived last.
_STATUS_ORDER = {
    ListingStatus.PUBLISHED: 0,
    ListingStatus.PAUSED: 1,
    ListingStatus.DRAFT: 2,
    ListingStatus.ARCHIVED: 3,
}


def listings_of(session: Session, provider: Provider) -> list[Listing]:
    """All listings of a provider (three queries, whatever their number)."""
    stmt = (
        sa.select(Listing)
        .where(Listing.provider_id == provider.id)
        .options(selectinload(Listing.category), selectinload(Listing.communities))
        .order_by(
            sa.case(_STATUS_ORDER, value=Listing.status, else_=9),
            Listing.updated_at.desc(),
            Listing.id.desc(),
        )
    )
    return list(session.scalars(stmt))


def allowed_statuses(listing: Listing) -> list[ListingStatus]:
    """The statuses this listing may move to next, in a stable order."""
    allowed = LISTING_MACHINE.exits(listing.status)
    return [s for s in ListingStatus if s in allowed]


def versions_of(session: Session, listing: Listing) -> list[ListingVersion]:
    stmt = (
        sa.select(ListingVersion)
        .where(ListingVersion.listing_id == listing.id)
        .order_by(ListingVersion.version.desc())
    )
    return list(session.scalars(stmt))


def history_of(session: Session, listing: Listing) -> list[tuple[ListingVersion, User | None]]:
    """Every saved version, newest first, with who saved it (one query)."""
    stmt = (
        sa.select(ListingVersion, User)
        .outerjoin(User, User.id == ListingVersion.created_by_id)
        .where(ListingVersion.listing_id == listing.id)
        .order_by(ListingVersion.version.desc())
    )
    return [(version, user) for version, user in session.execute(stmt)]


def status_changes_of(session: Session, listing: Listing) -> list[AuditEvent]:
    """The listing's status changes from the audit trail, newest first (two queries)."""
    actions = [f"listing.{s.value}" for s in ListingStatus if s != ListingStatus.DRAFT]
    stmt = (
        sa.select(AuditEvent)
        .where(
            AuditEvent.object_type == "listing",
            AuditEvent.object_id == listing.id,
            AuditEvent.action.in_(actions),
        )
        .options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    return list(session.scalars(stmt))
