"""Projects registered BEFORE building: the only thing a subsidy claim can be filed on.

Only an active provider's staff register projects; a provider sees only its
own (someone else's project is a 404, never a 403, so ids reveal nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.errors import Conflict, Invalid, NotFound, Problems
from app.models import Community, Role, User
from billing.subsidies.models import SubsidyProject
from billing.subsidies.policies import current_policy, parse_project_type
from providers.models import Provider, ProviderStatus, ProviderStaff

MAX_QUANTITY = Decimal("1000000")
MAX_INVESTMENT_FEN = 10_000_000_000  # 100 million yuan


@dataclass
class ProjectInput:
    community_id: int | None
    project_type: str
    title: str
    planned_quantity: object
    planned_investment_fen: object


def parse_quantity(value, field: str) -> Decimal:
    """A positive quantity with at most two decimals (7.5 kW), never rounded silently."""
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(_l("Give the quantity as a number, e.g. 120 or 7.5."), field=field) from None
    if not quantity.is_finite() or quantity <= 0:
        raise Invalid(_l("The quantity must be more than zero."), field=field)
    if quantity > MAX_QUANTITY:
        raise Invalid(_l("The quantity is implausibly large."), field=field)
    if quantity != quantity.quantize(Decimal("0.01")):
        raise Invalid(_l("The quantity has at most two decimal places."), field=field)
    return quantity


def parse_investment(value, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(_l("Give the investment in yuan, with at most two decimals."), field=field)
    if value <= 0:
        raise Invalid(_l("The investment must be more than zero."), field=field)
    if value > MAX_INVESTMENT_FEN:
        raise Invalid(_l("The investment is implausibly large."), field=field)
    return value


def require_active(provider: Provider) -> None:
    if provider.status != ProviderStatus.ACTIVE:
        raise Conflict(_l("Only an active provider can register projects and claim subsidies."))


def register_project(session: Session, provider: Provider, data: ProjectInput, *, actor: User,
                     problems: Problems | None = None) -> SubsidyProject:
    """Register a project before building it (flushes; the caller commits).  Every problem with
    the input is refused at once (a :class:`Problems`, with ``problems`` the caller found
    already: a field at fault there is not refused twice)."""
    require_active(provider)
    found = problems if problems is not None else Problems()

    def check(parse, *args):
        try:
            return parse(*args)
        except Invalid as error:
            if error.field not in {one.field for one in found.errors}:
                found.extend(error)
            return None

    project_type = check(parse_project_type, data.project_type)
    title = (data.title or "").strip()
    if not title:
        found.add(_l("Give the project a short title."), field="title")
    elif len(title) > 120:
        found.add(_l("The title is at most 120 characters."), field="title")
    community = session.get(Community, data.community_id) if data.community_id else None
    if community is None:
        found.add(_l("Choose the community where the project is built."), field="community_id")
    quantity = check(parse_quantity, data.planned_quantity, "planned_quantity")
    investment = check(parse_investment, data.planned_investment_fen, "planned_investment_fen")
    if project_type is not None:
        current_policy(session, project_type)  # a type without a policy cannot be registered (404)
    found.raise_if_any()
    project = SubsidyProject(provider_id=provider.id, community_id=community.id, project_type=project_type,
                             title=title, planned_quantity=quantity, planned_investment_fen=investment,
                             registered_by_id=actor.id)
    session.add(project)
    session.flush()
    audit.record(session, actor=actor, action="subsidy_project.registered", object_type="subsidy_project",
                 object_id=project.id,
                 after={"provider_id": provider.id, "community_id": community.id, "project_type": project_type,
                        "planned_quantity": str(quantity), "planned_investment_fen": investment})
    return project


def own_project(session: Session, provider: Provider, project_id: int, *, for_update: bool = False) -> SubsidyProject:
    stmt = sa.select(SubsidyProject).where(SubsidyProject.id == project_id,
                                           SubsidyProject.provider_id == provider.id)
    if for_update:
        stmt = stmt.with_for_update()
    project = session.scalar(stmt)
    if project is None:
        raise NotFound(_l("There is no such project of your organisation."))
    return project


def projects_of(session: Session, provider: Provider) -> list[SubsidyProject]:
    return list(session.scalars(
        sa.select(SubsidyProject).where(SubsidyProject.provider_id == provider.id)
        .order_by(SubsidyProject.registered_at.desc(), SubsidyProject.id.desc())
    ))


def staff_ids(session: Session, provider_id: int) -> list[int]:
    return list(session.scalars(sa.select(ProviderStaff.user_id).where(ProviderStaff.provider_id == provider_id)))


def official_ids(session: Session, *, besides: int | None = None) -> list[int]:
    """The active officials (and admins) to tell about claims to review, except ``besides``."""
    return list(session.scalars(sa.select(User.id).where(User.role.in_((Role.OFFICIAL, Role.ADMIN)),
                                                         User.disabled_at.is_(None), User.id != (besides or -1))
                                .order_by(User.id)))
