"""Provider registration, profile changes, documents, and resubmission.

A provider registers its organisation together with its first staff account.
It starts *pending*; while pending or rejected its staff can fix the details
and documents; a rejected provider resubmits and is pending again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.auth.services import check_phone, create_user
from app.clock import local, now, today
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, LinliError, NotFound
from app.models import Community, Role, User
from providers import creditcode
from providers.models import (
    DocumentKind,
    Provider,
    ProviderStaff,
    ProviderStatus,
    QualificationDocument,
    ServiceCategory,
)
from providers.uploads import StoredFile

CREDIT_CODE_MESSAGES = {
    "length": _l("A unified social credit code has exactly 18 characters."),
    "characters": _l(
        "A unified social credit code uses only digits and the letters "
        "A–H, J–N, P–R, T, U, W–Y (no I, O, S, V, Z)."
    ),
    "check": _l("This unified social credit code is not valid: its check character does not match."),
}

EDITABLE_STATUSES = (ProviderStatus.PENDING, ProviderStatus.REJECTED, ProviderStatus.ACTIVE)

# create_user names its fields for a resident's sign-up; on the registration
# form the first staff account's fields carry a prefix.
STAFF_FIELDS = {"phone": "staff_phone", "name": "staff_name"}


@dataclass
class ProviderDetails:
    """What an organisation states about itself."""

    name: str
    credit_code: str
    legal_representative: str
    contact_name: str
    contact_phone: str
    address: str = ""
    description: str = ""
    category_ids: list[int] = field(default_factory=list)
    community_ids: list[int] = field(default_factory=list)


def check_credit_code(code: str) -> str:
    code = creditcode.normalise(code or "")
    problem = creditcode.problem_with(code)
    if problem:
        raise Invalid(CREDIT_CODE_MESSAGES[problem], field="credit_code")
    return code


def _required(value: str, field_name: str, label, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(_l("%(label)s is required.", label=label), field=field_name)
    if len(value) > limit:
        raise Invalid(
            _l("%(label)s is too long (%(n)d characters at most).", label=label, n=limit),
            field=field_name,
        )
    return value


def _optional(value: str, field_name: str, label, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise Invalid(
            _l("%(label)s is too long (%(n)d characters at most).", label=label, n=limit),
            field=field_name,
        )
    return value


def _load_all(session: Session, model, ids: list[int], field_name: str, message):
    ids = sorted(set(ids or []))
    if not ids:
        raise Invalid(message, field=field_name)
    rows = list(session.scalars(sa.select(model).where(model.id.in_(ids))))
    if len(rows) != len(ids):
        raise Invalid(_l("Choose only from the list."), field=field_name)
    return rows


def _apply_details(session: Session, provider: Provider, details: ProviderDetails) -> None:
    provider.name = _required(details.name, "name", _l("Organisation name"), 120)
    provider.legal_representative = _required(
        details.legal_representative, "legal_representative", _l("Legal representative"), 60
    )
    provider.contact_name = _required(details.contact_name, "contact_name", _l("Contact person"), 60)
    provider.contact_phone = check_phone(details.contact_phone, field="contact_phone")
    provider.address = _optional(details.address, "address", _l("Address"), 200)
    provider.description = _optional(details.description, "description", _l("Description"), 4000)
    provider.categories = _load_all(
        session, ServiceCategory, details.category_ids, "category_ids",
        _l("Choose at least one service category."),
    )
    provider.communities = _load_all(
        session, Community, details.community_ids, "community_ids",
        _l("Choose at least one community you serve."),
    )


def _check_code_free(session: Session, code: str, provider_id: int | None = None) -> None:
    """Refuse a credit code another organisation holds: a live one (any status but
    removed; the partial unique index ``uq_provider_credit_code_live`` backs this
    up), or a removed one whose re-registration bar is still running.  Once the
    bar has ended (two calendar years, :func:`providers.models.reregistration_bar_end`)
    the code is free again.  A removal without a recorded bar stays refused."""
    others = list(session.scalars(
        sa.select(Provider).where(Provider.credit_code == code, Provider.id != (provider_id or 0))
        .order_by(Provider.id)))
    if any(other.status != ProviderStatus.REMOVED for other in others):
        raise Conflict(_l("An organisation with this credit code is already registered."), field="credit_code")
    if any(other.reregistration_barred_until is None for other in others):
        raise Conflict(
            _l(
                "An organisation with this credit code was removed from Linli and may not "
                "register again for now. Contact the district office."
            ),
            field="credit_code",
        )
    barring = max(others, key=lambda other: other.reregistration_barred_until, default=None)
    if barring is not None and now() < barring.reregistration_barred_until:
        barred = barring.reregistration_barred_until
        raise Conflict(
            _l(
                "An organisation with this credit code was removed from Linli on %(removed)s and may not "
                "register again before %(until)s. Contact the district office.",
                removed=local(barring.removed_at or barred).strftime("%Y-%m-%d"),
                until=local(barred).strftime("%Y-%m-%d"),
            ),
            field="credit_code",
        )


def snapshot(provider: Provider) -> dict:
    return {
        "name": provider.name,
        "credit_code": provider.credit_code,
        "legal_representative": provider.legal_representative,
        "contact_name": provider.contact_name,
        "contact_phone": provider.contact_phone,
        "address": provider.address,
        "status": provider.status,
        "categories": [c.code for c in provider.categories],
        "communities": [c.code for c in provider.communities],
    }


def register_provider(
    session: Session,
    details: ProviderDetails,
    *,
    staff_name: str,
    staff_phone: str,
    password: str | None,
    password_hash: str | None = None,
) -> tuple[Provider, User]:
    """Register an organisation and its first (owner) staff account; pending.

    ``password_hash``: the password checked and hashed when the phone's code was sent
    (the registration page, :func:`check_registration`)."""
    code = check_credit_code(details.credit_code)
    _check_code_free(session, code)
    provider = Provider(credit_code=code, status=ProviderStatus.PENDING, submitted_at=now())
    _apply_details(session, provider, details)
    try:
        user = create_user(
            session, phone=staff_phone, name=staff_name, password=password, role=Role.PROVIDER_STAFF,
            password_hash=password_hash,
        )
    except LinliError as error:
        error.field = STAFF_FIELDS.get(error.field, error.field)
        raise
    session.add(provider)
    session.flush()
    session.add(ProviderStaff(user_id=user.id, provider_id=provider.id, is_owner=True))
    audit.record(
        session, actor=user, action="provider.registered", object_type="provider",
        object_id=provider.id, after=snapshot(provider),
    )
    return provider, user


def check_registration(session: Session, details: ProviderDetails, *, staff_name: str, staff_phone: str,
                       password: str) -> None:
    """Every rule of :func:`register_provider`, with nothing kept (a savepoint rolled back):
    the page sends the code that proves the staff phone only for details that register."""
    savepoint = session.begin_nested()
    try:
        register_provider(session, details, staff_name=staff_name, staff_phone=staff_phone, password=password)
    finally:
        savepoint.rollback()


def can_edit(provider: Provider) -> bool:
    """Whether the provider's staff may change its details."""
    return provider.status in EDITABLE_STATUSES


def can_upload(provider: Provider) -> bool:
    """Whether the provider's staff may upload qualification documents."""
    return provider.status != ProviderStatus.REMOVED


def provider_of(session: Session, user: User) -> Provider:
    """The provider the staff member works for (403 for anyone else)."""
    membership = session.get(ProviderStaff, user.id) if user.is_authenticated else None
    if membership is None:
        raise Forbidden(_l("Only a provider's staff can do this."))
    return membership.provider


def update_details(session: Session, provider: Provider, details: ProviderDetails, *, actor: User) -> None:
    """Change the organisation's details (not allowed once suspended or removed)."""
    if not can_edit(provider):
        raise Conflict(_l("A suspended or removed provider cannot change its details."))
    before = snapshot(provider)
    code = check_credit_code(details.credit_code)
    if code != provider.credit_code:
        if provider.status == ProviderStatus.ACTIVE:
            raise Conflict(_l("An approved organisation cannot change its credit code."), field="credit_code")
        _check_code_free(session, code, provider.id)
        provider.credit_code = code
    _apply_details(session, provider, details)
    session.flush()
    audit.record(
        session, actor=actor, action="provider.updated", object_type="provider",
        object_id=provider.id, before=before, after=snapshot(provider),
    )


def resubmit(session: Session, provider: Provider, *, actor: User) -> None:
    """A rejected provider asks for review again."""
    if provider.status != ProviderStatus.REJECTED:
        raise IllegalTransition(_l("Only a rejected provider can resubmit for review."))
    before = {"status": provider.status, "reason": provider.status_reason}
    provider.transition_to(ProviderStatus.PENDING)
    # The rejection reason stays in the audit trail; a pending provider has none.
    provider.status_reason = None
    provider.submitted_at = now()
    session.flush()
    audit.record(
        session, actor=actor, action="provider.resubmitted", object_type="provider",
        object_id=provider.id, before=before, after={"status": provider.status, "reason": None},
    )


def add_document(
    session: Session,
    provider: Provider,
    stored: StoredFile,
    *,
    kind: str,
    expires_on: date | None,
    actor: User,
) -> QualificationDocument:
    """Attach an already-stored file as a qualification document."""
    try:
        kind_value = DocumentKind(kind)
    except ValueError:
        raise Invalid(_l("Choose the kind of document."), field="kind") from None
    if expires_on is None:
        raise Invalid(_l("Enter the date the document expires."), field="expires_on")
    if expires_on <= today():
        raise Invalid(_l("This document has already expired: upload a valid one."), field="expires_on")
    if not can_upload(provider):
        raise Conflict(_l("A removed provider cannot upload documents."))
    document = QualificationDocument(
        provider_id=provider.id,
        kind=kind_value,
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        expires_on=expires_on,
        uploaded_at=now(),
        uploaded_by_id=actor.id,
    )
    session.add(document)
    session.flush()
    audit.record(
        session, actor=actor, action="document.uploaded", object_type="provider",
        object_id=provider.id,
        after={"document_id": document.id, "kind": kind_value, "name": stored.original_name,
               "expires_on": expires_on},
    )
    return document


def document_for(session: Session, document_id: int, user: User) -> QualificationDocument:
    """A document, if the user is an official or works for its provider (else 404)."""
    document = session.get(QualificationDocument, document_id)
    if document is None:
        raise NotFound(_l("No such document."))
    if user.is_official:
        return document
    membership = session.get(ProviderStaff, user.id)
    if membership is None or membership.provider_id != document.provider_id:
        raise NotFound(_l("No such document."))
    return document
