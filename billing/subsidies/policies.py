"""Subsidy policies and tier caps (versioned), and the eligible-amount computation.

An official's edit adds the next version; existing versions are never
changed, and a claim keeps the ids of the versions it was computed with.

The eligible amount (DOMAIN.md, Linli default) is the smallest of four terms,
each shown to the claimant:

``rate``      rate per unit × verified quantity
``share``     share % × verified investment
``category``  the project type's category cap
``tier``      the community tier's yearly cap − already awarded in that
              community this (local, Asia/Shanghai) calendar year

Arithmetic is Decimal; the rate and share terms are rounded half-up to the fen
(:func:`app.money.round_fen`).  When two terms tie, the first in that order is
named as the binding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.errors import Invalid, NotFound
from app.models import CommunityTier, User
from app.money import round_fen
from billing.subsidies.models import (
    ProjectType,
    SubsidyCommunityYear,
    SubsidyPolicy,
    SubsidyTierCap,
)

MAX_CAP_FEN = 10_000_000_000  # 100 million yuan: above it is a typing error

TERM_LABELS = {
    "rate": _l("Rate per unit × verified quantity"),
    "share": _l("Share of the verified investment"),
    "category": _l("Category cap"),
    "tier": _l("Community tier cap left this year"),
}
TERM_ORDER = ("rate", "share", "category", "tier")


def parse_project_type(value) -> ProjectType:
    try:
        return ProjectType(str(value))
    except ValueError:
        raise Invalid(_l("Choose a project type from the list."), field="project_type") from None


def parse_tier(value) -> CommunityTier:
    try:
        return CommunityTier(str(value))
    except ValueError:
        raise Invalid(_l("Choose a community tier from the list."), field="tier") from None


def current_policy(session: Session, project_type: ProjectType | str) -> SubsidyPolicy:
    policy = session.scalar(
        sa.select(SubsidyPolicy).where(SubsidyPolicy.project_type == parse_project_type(project_type))
        .order_by(SubsidyPolicy.version.desc()).limit(1)
    )
    if policy is None:
        raise NotFound(_l("There is no subsidy policy for this project type."))
    return policy


def current_policies(session: Session) -> list[SubsidyPolicy]:
    return [current_policy(session, t) for t in ProjectType
            if session.scalar(sa.select(SubsidyPolicy.id).where(SubsidyPolicy.project_type == t).limit(1))]


def policy_versions(session: Session, project_type: ProjectType | str) -> list[SubsidyPolicy]:
    return list(session.scalars(
        sa.select(SubsidyPolicy).where(SubsidyPolicy.project_type == parse_project_type(project_type))
        .order_by(SubsidyPolicy.version.desc())
    ))


def current_tier_cap(session: Session, tier: CommunityTier | str) -> SubsidyTierCap:
    cap = session.scalar(
        sa.select(SubsidyTierCap).where(SubsidyTierCap.tier == parse_tier(tier))
        .order_by(SubsidyTierCap.version.desc()).limit(1)
    )
    if cap is None:
        raise NotFound(_l("There is no yearly cap for this community tier."))
    return cap


def current_tier_caps(session: Session) -> list[SubsidyTierCap]:
    return [current_tier_cap(session, tier) for tier in CommunityTier]


def _money(value, field: str, *, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(_l("Give the amount in whole fen."), field=field)
    if value < 0 or (value == 0 and not allow_zero):
        raise Invalid(_l("The amount must be more than zero."), field=field)
    if value > MAX_CAP_FEN:
        raise Invalid(_l("The amount is implausibly large."), field=field)
    return value


def _percent(value) -> Decimal:
    try:
        share = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid(_l("Give the share as a percentage, e.g. 30 or 27.5."), field="share_percent") from None
    if not share.is_finite() or share <= 0 or share > 100:
        raise Invalid(_l("The share must be more than 0 and at most 100 percent."), field="share_percent")
    if share != share.quantize(Decimal("0.01")):
        raise Invalid(_l("The share has at most two decimal places."), field="share_percent")
    return share


def new_policy_version(session: Session, *, project_type, rate_fen, share_percent, category_cap_fen,
                       obligation_years: int = 5, note: str = "", actor: User) -> SubsidyPolicy:
    """Add the next version of a project type's policy (the old ones stay as they are)."""
    project_type = parse_project_type(project_type)
    rate_fen = _money(rate_fen, "rate_fen")
    share = _percent(share_percent)
    category_cap_fen = _money(category_cap_fen, "category_cap_fen")
    if not isinstance(obligation_years, int) or not 1 <= obligation_years <= 20:
        raise Invalid(_l("The operating obligation is 1 to 20 years."), field="obligation_years")
    previous = current_policy(session, project_type)
    policy = SubsidyPolicy(project_type=project_type, version=previous.version + 1, unit=previous.unit,
                           rate_fen=rate_fen, share_percent=share, category_cap_fen=category_cap_fen,
                           obligation_years=obligation_years, note=(note or "").strip()[:300],
                           created_by_id=actor.id)
    session.add(policy)
    session.flush()
    audit.record(session, actor=actor, action="subsidy_policy.versioned", object_type="subsidy_policy",
                 object_id=policy.id,
                 before={"version": previous.version, "rate_fen": previous.rate_fen,
                         "share_percent": str(previous.share_percent), "category_cap_fen": previous.category_cap_fen,
                         "obligation_years": previous.obligation_years},
                 after={"version": policy.version, "rate_fen": rate_fen, "share_percent": str(share),
                        "category_cap_fen": category_cap_fen, "obligation_years": obligation_years},
                 reason=policy.note or None)
    return policy


def new_tier_cap_version(session: Session, *, tier, cap_fen, note: str = "", actor: User) -> SubsidyTierCap:
    """Add the next version of a tier's yearly cap."""
    tier = parse_tier(tier)
    cap_fen = _money(cap_fen, "cap_fen", allow_zero=True)
    previous = current_tier_cap(session, tier)
    cap = SubsidyTierCap(tier=tier, version=previous.version + 1, cap_fen=cap_fen,
                         note=(note or "").strip()[:300], created_by_id=actor.id)
    session.add(cap)
    session.flush()
    audit.record(session, actor=actor, action="subsidy_tier_cap.versioned", object_type="subsidy_tier_cap",
                 object_id=cap.id, before={"version": previous.version, "cap_fen": previous.cap_fen},
                 after={"version": cap.version, "cap_fen": cap_fen}, reason=cap.note or None)
    return cap


def awarded_in(session: Session, community_id: int, year: int) -> int:
    value = session.scalar(sa.select(SubsidyCommunityYear.awarded_fen).where(
        SubsidyCommunityYear.community_id == community_id, SubsidyCommunityYear.year == year))
    return int(value or 0)


@dataclass(frozen=True)
class Computation:
    """The eligible amount and every term (fen)."""

    policy: SubsidyPolicy
    tier_cap: SubsidyTierCap
    year: int
    quantity: Decimal
    investment_fen: int
    already_awarded_fen: int
    rate_term_fen: int
    share_term_fen: int
    category_cap_fen: int
    tier_room_fen: int

    @property
    def terms(self) -> dict[str, int]:
        return {"rate": self.rate_term_fen, "share": self.share_term_fen,
                "category": self.category_cap_fen, "tier": self.tier_room_fen}

    @property
    def eligible_fen(self) -> int:
        return min(self.terms.values())

    @property
    def binding_term(self) -> str:
        terms = self.terms
        return next(name for name in TERM_ORDER if terms[name] == self.eligible_fen)


def compute(session: Session, *, policy: SubsidyPolicy, tier_cap: SubsidyTierCap, community_id: int,
            year: int, quantity: Decimal, investment_fen: int) -> Computation:
    """min(rate × quantity, share × investment, category cap, tier cap − awarded this year)."""
    already = awarded_in(session, community_id, year)
    return Computation(
        policy=policy, tier_cap=tier_cap, year=year, quantity=quantity, investment_fen=investment_fen,
        already_awarded_fen=already,
        rate_term_fen=round_fen(Decimal(policy.rate_fen) * quantity),
        share_term_fen=round_fen(Decimal(investment_fen) * Decimal(policy.share_percent) / 100),
        category_cap_fen=policy.category_cap_fen,
        tier_room_fen=max(tier_cap.cap_fen - already, 0),
    )
