"""Officials vet providers: approve, reject, suspend, reinstate.

Each decision moves the provider through its state machine and writes an
audit event (who, what, when, before/after, reason) in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.clock import now
from app.errors import Forbidden, IllegalTransition, Invalid, NotFound
from app.models import User
from providers.models import Provider, ProviderStatus

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
