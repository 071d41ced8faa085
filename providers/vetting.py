"""Officials vet providers: approve, reject, suspend, reinstate; and decide an
approved provider's change requests (providers/registration.py files them).

Each decision moves the provider (or the change) through its state machine and
writes an audit event (who, what, when, before/after, reason) in the same
transaction, with a notification to the provider's staff (what was decided, the
reason, and what to do next) for every decision on the provider and on a change.  A
provider is approved, and a change holding new categories is approved, only
with a valid document of each kind those categories need
(``providers.models.REQUIRED_DOCUMENTS``).  Approving a change applies it; the
provider's published listings in a category it no longer holds are paused.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.clock import now, today
from app.errors import Forbidden, IllegalTransition, Invalid, NotFound
from app.models import User
from app.notifications import notify
from providers import registration
from providers.models import (
    ChangeStatus,
    Listing,
    ListingStatus,
    Provider,
    ProviderChange,
    ProviderStatus,
    QualificationDocument,
)

DECISIONS = {
    # action: (target status, reason required)
    "approve": (ProviderStatus.ACTIVE, False),
    "reject": (ProviderStatus.REJECTED, True),
    "suspend": (ProviderStatus.SUSPENDED, True),
    "reinstate": (ProviderStatus.ACTIVE, True),
}

# The one status each decision applies to (approve and reinstate both lead to
# active, so the target alone does not say which decision is allowed).
DECISION_FROM = {
    "approve": ProviderStatus.PENDING,
    "reject": ProviderStatus.PENDING,
    "suspend": ProviderStatus.ACTIVE,
    "reinstate": ProviderStatus.SUSPENDED,
}

DECISION_REFUSALS = {
    "approve": _l("Only a provider pending review can be approved."),
    "reject": _l("Only a provider pending review can be rejected."),
    "suspend": _l("Only an active provider can be suspended."),
    "reinstate": _l("Only a suspended provider can be reinstated."),
}

DECISION_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "suspend": _l("Suspend"),
    "reinstate": _l("Reinstate"),
}

# Statuses an official can filter the queue by, in the order of the tabs.
QUEUE_STATUSES = (
    ProviderStatus.PENDING,
    ProviderStatus.ACTIVE,
    ProviderStatus.REJECTED,
    ProviderStatus.SUSPENDED,
    ProviderStatus.REMOVED,
)


def actions_for(provider: Provider) -> list[str]:
    """The decisions an official can take on the provider now."""
    return [action for action, source in DECISION_FROM.items() if provider.status == source]


def reason_required(action: str) -> bool:
    return DECISIONS[action][1]


def decide(session: Session, provider: Provider, action: str, *, official: User, reason: str = "") -> None:
    """Apply an official's decision to a provider."""
    if not official.is_official:
        raise Forbidden(_l("Only officials vet providers."))
    if action not in DECISIONS:
        raise Invalid(_l("Unknown decision."), field="action")
    if provider.status != DECISION_FROM[action]:
        raise IllegalTransition(DECISION_REFUSALS[action], field="action")
    target, needs_reason = DECISIONS[action]
    reason = (reason or "").strip()
    if needs_reason and not reason:
        raise Invalid(_l("Give a reason: the provider will see it."), field="reason")
    if len(reason) > 2000:
        raise Invalid(_l("The reason is too long (2000 characters at most)."), field="reason")
    if action == "approve":
        error = registration.qualification_error(
            registration.missing_qualifications(provider.categories, provider.documents, today()), for_official=True
        )
        if error is not None:
            raise error
    before = {"status": provider.status, "reason": provider.status_reason}
    provider.transition_to(target)
    provider.status_reason = reason or None
    if target == ProviderStatus.ACTIVE and provider.activated_at is None:
        provider.activated_at = now()
    session.flush()
    audit.record(
        session,
        actor=official,
        action=f"provider.{action}",
        object_type="provider",
        object_id=provider.id,
        before=before,
        after={"status": provider.status, "reason": provider.status_reason},
        reason=reason or None,
    )
    notify(session, registration._staff_ids(session, provider), registration.DECISION_NOTIFICATIONS[action],
           link="/provider", provider=provider.name, reason=reason)


def get_provider(session: Session, provider_id: int, *, for_update: bool = False) -> Provider:
    """The provider (404 if there is none); ``for_update`` locks its row for a decision."""
    provider = session.get(Provider, provider_id, with_for_update=for_update or None)
    if provider is None:
        raise NotFound(_l("No such provider."))
    return provider


def queue(session: Session, status: ProviderStatus = ProviderStatus.PENDING) -> list[Provider]:
    """Providers in one status, oldest submission first, with what the page shows."""
    stmt = (
        sa.select(Provider)
        .where(Provider.status == status)
        .options(
            selectinload(Provider.documents),
            selectinload(Provider.categories),
            selectinload(Provider.communities),
        )
        .order_by(Provider.submitted_at, Provider.id)
    )
    return list(session.scalars(stmt))


def counts_by_status(session: Session) -> dict[ProviderStatus, int]:
    rows = session.execute(sa.select(Provider.status, sa.func.count()).group_by(Provider.status))
    counts = {status: 0 for status in ProviderStatus}
    counts.update({status: n for status, n in rows})
    return counts


# --- Change requests -----------------------------------------------------------

CHANGE_DECISIONS = ("approve", "reject")


def get_change(session: Session, provider: Provider, *, for_update: bool = False) -> ProviderChange:
    """The provider's change request waiting for review (409 when there is none: a decided
    request cannot be decided again)."""
    change = registration.open_change(session, provider, for_update=for_update)
    if change is None:
        raise IllegalTransition(_l("This provider has no change waiting for review."), field="action")
    return change


def decide_change(
    session: Session, provider: Provider, action: str, *, official: User, reason: str = ""
) -> ProviderChange:
    """Approve (apply) or reject (keep the old values, tell the provider why) the
    provider's open change request.  Lock the provider row first (``get_provider(…,
    for_update=True)``) so the provider cannot amend the request meanwhile."""
    if not official.is_official:
        raise Forbidden(_l("Only officials vet providers."))
    if action not in CHANGE_DECISIONS:
        raise Invalid(_l("Unknown decision."), field="action")
    if provider.status not in registration.VETTED_STATUSES:
        raise IllegalTransition(_l("Only an approved or suspended provider's change can be decided."), field="action")
    change = get_change(session, provider, for_update=True)
    reason = (reason or "").strip()
    if action == "reject" and not reason:
        raise Invalid(_l("Give a reason: the provider will see it."), field="reason")
    if len(reason) > 2000:
        raise Invalid(_l("The reason is too long (2000 characters at most)."), field="reason")
    in_force = registration.vetted_in_force(provider)
    if action == "approve":
        categories = registration.proposed_categories(session, change)
        if categories is not None:
            held = {c.code for c in provider.categories}
            added = [c for c in categories if c.code not in held]
            offered = registration.documents_in_force(provider) + list(change.documents)
            error = registration.qualification_error(
                registration.missing_qualifications(added, offered, today()), for_official=True)
            if error is not None:
                raise error
        change.transition_to(ChangeStatus.APPROVED)
        _apply_change(session, provider, change, categories, official)
    else:
        change.transition_to(ChangeStatus.REJECTED)
    change.reason = reason or None
    change.decided_by_id = official.id
    change.decided_at = now()
    session.flush()
    audit.record(
        session, actor=official, action=f"provider.change_{'approved' if action == 'approve' else 'rejected'}",
        object_type="provider", object_id=provider.id,
        before={key: in_force[key] for key in change.proposed},
        after=registration.vetted_in_force(provider) if action == "approve" else dict(in_force),
        reason=reason or None,
    )
    kind = "provider.change_approved" if action == "approve" else "provider.change_rejected"
    notify(session, registration._staff_ids(session, provider), kind, link="/provider", reason=reason)
    return change


def _apply_change(session: Session, provider: Provider, change: ProviderChange, categories, official: User) -> None:
    proposed = change.proposed
    if "name" in proposed:
        provider.name = proposed["name"]
    if "legal_representative" in proposed:
        provider.legal_representative = proposed["legal_representative"]
    if categories is not None:
        provider.categories = categories
        kept = {c.id for c in categories}
        dropped = session.scalars(
            sa.select(Listing).where(
                Listing.provider_id == provider.id, Listing.status == ListingStatus.PUBLISHED,
                Listing.category_id.not_in(kept),
            ).order_by(Listing.id)
        )
        for listing in dropped:  # no listing stays published in a category the provider lost
            listing.transition_to(ListingStatus.PAUSED)
            audit.record(session, actor=official, action="listing.paused", object_type="listing",
                         object_id=listing.id, before={"status": ListingStatus.PUBLISHED},
                         after={"status": ListingStatus.PAUSED},
                         reason="category no longer approved for the provider")
    for document in session.scalars(sa.select(QualificationDocument).where(QualificationDocument.change_id == change.id)):
        document.change_id = None  # in force from now on


def change_queue(session: Session) -> list[ProviderChange]:
    """Change requests waiting for review, oldest first."""
    return list(session.scalars(
        sa.select(ProviderChange).join(Provider, Provider.id == ProviderChange.provider_id)
        .where(ProviderChange.status == ChangeStatus.PENDING, Provider.status.in_(registration.VETTED_STATUSES))
        .options(selectinload(ProviderChange.provider), selectinload(ProviderChange.documents))
        .order_by(ProviderChange.updated_at, ProviderChange.id)
    ))

