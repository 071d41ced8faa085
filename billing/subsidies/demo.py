"""Demo data for build-then-subsidise: 安康居家养老服务中心 (13700000001, active) registered
an elderly-friendly renovation in 城里社区 (benchmark tier) before building, and
filed its claim after acceptance; it waits for district verification, so one demo
official (13900000001) can verify it and the other (13900000002) approve it.

Created through the real services (audit trail, notifications).  Loading twice
changes nothing.  The registration is dated 90 days back (a demo has no past).

Worked computation (policy v1 for elderly-friendly renovation):
  rate     3,000.00 × 40 households              = ¥120,000.00
  share    30 % × ¥358,888.88 = 107,666.664 yuan  = ¥107,666.66 (half-up to the fen)
  category cap                                    = ¥150,000.00
  tier     ¥1,000,000.00 benchmark cap − ¥0.00    = ¥1,000,000.00
  eligible = ¥107,666.66, bound by the share of the verified investment.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import now, today
from app.models import Community, User
from billing.subsidies import claims, projects
from billing.subsidies.models import EvidenceKind, SubsidyProject
from providers.models import Provider, ProviderStaff

DEMO_TITLE = "城里社区老旧楼栋适老化改造（一期）"
PROVIDER_PHONE = "13700000001"
COMMUNITY_CODE = "zichuan-chengli"


def load_subsidy_demo(session: Session) -> bool:
    """Create the demo project and its waiting claim; False when present or when the
    provider demo data is missing (load providers.demo first)."""
    if session.scalar(sa.select(SubsidyProject.id).where(SubsidyProject.title == DEMO_TITLE)):
        return False
    staff = session.scalar(sa.select(User).where(User.phone == PROVIDER_PHONE))
    community = session.scalar(sa.select(Community).where(Community.code == COMMUNITY_CODE))
    if staff is None or community is None:
        return False
    provider = session.scalar(sa.select(Provider).join(ProviderStaff, ProviderStaff.provider_id == Provider.id)
                              .where(ProviderStaff.user_id == staff.id))
    if provider is None or not provider.is_active:
        return False
    from providers.demo import demo_pdf

    project = projects.register_project(session, provider, projects.ProjectInput(
        community_id=community.id, project_type="elderly_renovation", title=DEMO_TITLE,
        planned_quantity="40", planned_investment_fen=36_000_000), actor=staff)
    project.registered_at = now() - timedelta(days=90)
    session.flush()
    evidence = claims.store_evidence([
        (EvidenceKind.ACCEPTANCE_CERTIFICATE, io.BytesIO(demo_pdf("Acceptance certificate")), "竣工验收证书.pdf"),
        (EvidenceKind.INVOICE, io.BytesIO(demo_pdf("Invoice 1")), "增值税发票-1.pdf"),
        (EvidenceKind.INVOICE, io.BytesIO(demo_pdf("Invoice 2")), "增值税发票-2.pdf"),
    ])
    claims.file_claim(session, provider, project.id, claims.ClaimInput(
        accepted_on=today() - timedelta(days=10), verified_quantity=Decimal("40"),
        verified_investment_fen=35_888_888, evidence=evidence), actor=staff)
    return True
