"""Provider registration, profile changes, documents, and resubmission.

A provider registers its organisation together with its first staff account.
It starts *pending*; while pending or rejected its staff can fix the details
and documents; a rejected provider resubmits and is pending again.

Once an official has approved a provider, what officials vetted is no longer
the provider's to change alone (``providers.models.VETTED_FIELDS``: name,
legal representative, service categories; and its qualification documents):
:func:`update_details` applies the other details at once and files the vetted
ones as a :class:`~providers.models.ProviderChange`, which an official approves
or rejects (providers/vetting.py).  Until then the provider row keeps the old
values, so everything that reads it (catalogue, public page, listings, API)
goes on using them.  A category that needs a qualification
(``providers.models.REQUIRED_DOCUMENTS``) is accepted on a change request only
with a valid document of that kind, and approved only with one.
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
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, LinliError, NotFound, Problems
from app.models import Community, Role, User
from app.notifications import notify
from providers import creditcode
from providers.models import (
    DOCUMENT_KIND_LABELS,
    ChangeStatus,
    DocumentKind,
    Provider,
    ProviderChange,
    ProviderStaff,
    ProviderStatus,
    QualificationDocument,
    ServiceCategory,
    required_document,
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

# Statuses in which an official has vetted the provider: changes to what was
# vetted wait for review (a pending or rejected provider is under review anyway).
VETTED_STATUSES = (ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED)

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "provider.change_requested": _l("%(provider)s asks to change details the district vetted: review the change."),
    "provider.change_approved": _l("The district approved the change to your organisation's details: it is in force now."),
    "provider.change_rejected": _l("The district rejected the change to your organisation's details: %(reason)s"),
    # An official's decision on the provider itself (providers/vetting.py): what happened, what to do next.
    "provider.approved": _l("The district approved %(provider)s. Next: publish a listing so residents can "
                            "book you; the checklist on your dashboard shows what is left to do."),
    "provider.rejected": _l("The district did not approve %(provider)s. Its reason: “%(reason)s”. Fix what it "
                            "asks for (details or documents) on your dashboard, then resubmit for review."),
    "provider.suspended_by_district": _l("The district suspended %(provider)s. Its reason: “%(reason)s”. Residents cannot "
                             "book you until it is reinstated."),
    "provider.reinstated": _l("The district reinstated %(provider)s (“%(reason)s”). Residents can book you again."),
}

# The notification each of an official's decisions on a provider sends its staff.
DECISION_NOTIFICATIONS = {
    "approve": "provider.approved",
    "reject": "provider.rejected",
    "suspend": "provider.suspended_by_district",
    "reinstate": "provider.reinstated",
}

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


def _collect(problems: Problems, check, *args, **kwargs):
    """``check(...)``'s value, or None with its refusal added to ``problems``."""
    try:
        return check(*args, **kwargs)
    except Invalid as error:
        problems.extend(error)
        return None


def _vetted_values(session: Session, details: ProviderDetails, problems: Problems) -> dict:
    """The vetted fields of ``details``, checked (categories as rows); refusals go to ``problems``."""
    return {
        "name": _collect(problems, _required, details.name, "name", _l("Organisation name"), 120),
        "legal_representative": _collect(
            problems, _required, details.legal_representative, "legal_representative", _l("Legal representative"), 60
        ),
        "categories": _collect(
            problems, _load_all, session, ServiceCategory, details.category_ids, "category_ids",
            _l("Choose at least one service category."),
        ),
    }


def _open_values(session: Session, details: ProviderDetails, problems: Problems) -> dict:
    """The details officials did not vet, checked; refusals go to ``problems``."""
    return {
        "contact_name": _collect(problems, _required, details.contact_name, "contact_name", _l("Contact person"), 60),
        "contact_phone": _collect(problems, check_phone, details.contact_phone, field="contact_phone"),
        "address": _collect(problems, _optional, details.address, "address", _l("Address"), 200),
        "description": _collect(problems, _optional, details.description, "description", _l("Description"), 4000),
        "communities": _collect(
            problems, _load_all, session, Community, details.community_ids, "community_ids",
            _l("Choose at least one community you serve."),
        ),
    }


def _apply_open_details(provider: Provider, values: dict) -> None:
    """The details officials did not vet: they apply at once."""
    for name, value in values.items():
        setattr(provider, name, value)


def _checked_details(session: Session, details: ProviderDetails, problems: Problems | None = None) -> tuple[dict, dict]:
    """(vetted values, open values) of ``details``; every refusal at once (:class:`Problems`),
    with those already in ``problems`` (the credit code's)."""
    problems = problems if problems is not None else Problems()
    vetted = _vetted_values(session, details, problems)
    open_values = _open_values(session, details, problems)
    problems.raise_if_any()
    return vetted, open_values


def _apply_details(provider: Provider, vetted: dict, open_values: dict) -> None:
    _apply_open_details(provider, open_values)
    provider.name = vetted["name"]
    provider.legal_representative = vetted["legal_representative"]
    provider.categories = vetted["categories"]


# --- Qualifications a category needs -----------------------------------------


def missing_qualifications(
    categories: list[ServiceCategory], documents: list[QualificationDocument], on: date
) -> list[tuple[ServiceCategory, DocumentKind]]:
    """(category, kind) for each category that needs a document of a kind none of
    ``documents`` is, valid on ``on`` (expired copies do not count)."""
    valid = {document.kind for document in documents if not document.is_expired(on)}
    missing = []
    for category in categories:
        kind = required_document(category)
        if kind is not None and kind not in valid:
            missing.append((category, kind))
    return missing


def qualification_error(missing: list[tuple[ServiceCategory, DocumentKind]], *, for_official: bool = False):
    """The refusal for the first missing qualification (None when nothing is missing):
    Invalid on the categories for the provider, Conflict on the decision for an official."""
    if not missing:
        return None
    category, kind = missing[0]
    if for_official:
        return Conflict(
            _l(
                "%(category)s needs a valid %(document)s and none is on file: the provider must upload "
                "it before this can be approved.",
                category=category.name, document=DOCUMENT_KIND_LABELS[kind],
            ),
            field="action",
        )
    return Invalid(
        _l(
            "%(category)s needs a valid %(document)s. Upload it under “Qualification documents” first.",
            category=category.name, document=DOCUMENT_KIND_LABELS[kind],
        ),
        field="category_ids",
    )


def qualifications_needed(categories: list[ServiceCategory]) -> list[tuple[ServiceCategory, str]]:
    """(category, document label) for the categories that need a qualification (for the pages)."""
    return [(c, str(DOCUMENT_KIND_LABELS[required_document(c)])) for c in categories if required_document(c)]


def documents_in_force(provider: Provider) -> list[QualificationDocument]:
    return [document for document in provider.documents if document.in_force]


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
    problems = Problems()
    code = _collect(problems, check_credit_code, details.credit_code)
    vetted, open_values = _checked_details(session, details, problems)
    _check_code_free(session, code)
    provider = Provider(credit_code=code, status=ProviderStatus.PENDING, submitted_at=now())
    _apply_details(provider, vetted, open_values)
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


def update_details(
    session: Session, provider: Provider, details: ProviderDetails, *, actor: User
) -> ProviderChange | None:
    """Change the organisation's details (not allowed once suspended or removed).

    A provider not yet approved changes everything at once (it is under review).
    An approved one changes its contact details, address, description and
    communities at once; its vetted details (name, legal representative,
    categories) go into its open change request for an official's review, and
    stay as they are until approved.  Returns that request (None when the
    vetted details are unchanged)."""
    if not can_edit(provider):
        raise Conflict(_l("A suspended or removed provider cannot change its details."))
    before = snapshot(provider)
    problems = Problems()
    code = _collect(problems, check_credit_code, details.credit_code)
    vetted, open_values = _checked_details(session, details, problems)
    if code != provider.credit_code:
        if provider.status == ProviderStatus.ACTIVE:
            raise Conflict(_l("An approved organisation cannot change its credit code."), field="credit_code")
        _check_code_free(session, code, provider.id)
        provider.credit_code = code
    if provider.status not in VETTED_STATUSES:
        _apply_details(provider, vetted, open_values)
        change = None
    else:
        _apply_open_details(provider, open_values)
        change = _file_change(session, provider, vetted, actor=actor)
    session.flush()
    after = snapshot(provider)
    if after != before:
        audit.record(
            session, actor=actor, action="provider.updated", object_type="provider",
            object_id=provider.id, before=before, after=after,
        )
    return change


# --- Change requests of approved providers ------------------------------------


def vetted_in_force(provider: Provider) -> dict:
    """The vetted fields as they are in force (categories as codes)."""
    return {
        "name": provider.name,
        "legal_representative": provider.legal_representative,
        "categories": [c.code for c in provider.categories],
    }


def open_change(session: Session, provider: Provider, *, for_update: bool = False) -> ProviderChange | None:
    """The provider's change request waiting for review, if any."""
    stmt = sa.select(ProviderChange).where(
        ProviderChange.provider_id == provider.id, ProviderChange.status == ChangeStatus.PENDING
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def last_decided_change(session: Session, provider: Provider) -> ProviderChange | None:
    """The provider's most recently decided change request (approved or rejected)."""
    return session.scalar(
        sa.select(ProviderChange)
        .where(ProviderChange.provider_id == provider.id,
               ProviderChange.status.in_((ChangeStatus.APPROVED, ChangeStatus.REJECTED)))
        .order_by(ProviderChange.decided_at.desc(), ProviderChange.id.desc())
        .limit(1)
    )


def proposed_categories(session: Session, change: ProviderChange) -> list[ServiceCategory] | None:
    """The categories a change proposes (None: it leaves them as they are)."""
    codes = change.proposed.get("categories")
    if codes is None:
        return None
    return list(session.scalars(
        sa.select(ServiceCategory).where(ServiceCategory.code.in_(codes))
        .order_by(ServiceCategory.sort_order, ServiceCategory.id)
    ))


def _staff_ids(session: Session, provider: Provider) -> list[int]:
    return list(session.scalars(sa.select(ProviderStaff.user_id).where(ProviderStaff.provider_id == provider.id)))


def _official_ids(session: Session) -> list[int]:
    return list(session.scalars(
        sa.select(User.id).where(User.role.in_((Role.OFFICIAL, Role.ADMIN)), User.disabled_at.is_(None))
        .order_by(User.id)
    ))


def _notify_officials(session: Session, provider: Provider) -> None:
    notify(session, _official_ids(session), "provider.change_requested",
           link=f"/official/providers/{provider.id}", provider=provider.name)


def _change_for_documents(session: Session, provider: Provider, actor: User) -> ProviderChange:
    """The open change request, or a new one that changes no detail (for a document)."""
    change = open_change(session, provider, for_update=True)
    if change is None:
        change = ProviderChange(
            provider_id=provider.id, status=ChangeStatus.PENDING, proposed={}, before={},
            requested_by_id=actor.id, requested_at=now(), updated_at=now(),
        )
        session.add(change)
        session.flush()
    return change


def _file_change(session: Session, provider: Provider, vetted: dict, *, actor: User) -> ProviderChange | None:
    """Put the vetted values that differ from those in force into the open change
    request (creating it), after checking the qualifications the new categories need."""
    in_force = vetted_in_force(provider)
    wanted = {
        "name": vetted["name"],
        "legal_representative": vetted["legal_representative"],
        "categories": [c.code for c in vetted["categories"]],
    }
    proposed = {key: value for key, value in wanted.items() if value != in_force[key]}
    change = open_change(session, provider, for_update=True)
    if not proposed and (change is None or change.proposed == {}):
        return change
    if not proposed and not change.documents:  # back to what is in force: nothing left to review
        withdraw_change(session, provider, actor=actor)
        return None
    if "categories" in proposed:
        held = {c.code for c in provider.categories}
        added = [c for c in vetted["categories"] if c.code not in held]
        offered = documents_in_force(provider) + (list(change.documents) if change is not None else [])
        error = qualification_error(missing_qualifications(added, offered, today()))
        if error is not None:
            raise error
    if change is None:
        change = ProviderChange(provider_id=provider.id, status=ChangeStatus.PENDING,
                                requested_by_id=actor.id, requested_at=now())
        session.add(change)
    elif change.proposed == proposed:
        return change
    change.proposed = proposed
    change.before = {key: in_force[key] for key in proposed}
    change.updated_at = now()
    change.requested_by_id = actor.id
    session.flush()
    audit.record(
        session, actor=actor, action="provider.change_requested", object_type="provider",
        object_id=provider.id, before=change.before, after=dict(proposed),
    )
    _notify_officials(session, provider)
    return change


def withdraw_change(session: Session, provider: Provider, *, actor: User) -> ProviderChange:
    """The provider takes back its open change request (nothing of it comes into force)."""
    change = open_change(session, provider, for_update=True)
    if change is None:
        raise IllegalTransition(_l("There is no change waiting for review."))
    change.transition_to(ChangeStatus.WITHDRAWN)
    change.decided_at = now()
    session.flush()
    audit.record(
        session, actor=actor, action="provider.change_withdrawn", object_type="provider",
        object_id=provider.id, before=dict(change.proposed), after=dict(change.before),
    )
    return change


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
    # An approved provider's document is part of its change request: in force
    # only once an official approves the change.
    change = _change_for_documents(session, provider, actor) if provider.status in VETTED_STATUSES else None
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
        change_id=change.id if change is not None else None,
    )
    session.add(document)
    session.flush()
    after = {"document_id": document.id, "kind": kind_value, "name": stored.original_name,
             "expires_on": expires_on}
    if change is not None:
        after["change_id"] = change.id
    audit.record(
        session, actor=actor, action="document.uploaded", object_type="provider",
        object_id=provider.id, after=after,
    )
    if change is not None:
        change.updated_at = now()
        _notify_officials(session, provider)
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
