"""Helpers for the build-then-subsidise tests: a project, evidence files, a filed claim."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from app.clock import today
from app.extensions import db
from app.models import CommunityTier
from billing.subsidies import claims, projects
from billing.subsidies.models import EvidenceKind
from tests import factories

PDF = b"%PDF-1.4\n% evidence\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def provider_with_staff(tier: CommunityTier = CommunityTier.BASIC, community=None):
    community = community or factories.community(tier=tier)
    provider = factories.provider(communities=[community])
    return provider, factories.staff(provider), community


def register(provider, staff, community, *, project_type="ev_charger_dc", quantity="120",
             investment_fen=30_000_000, title="地下车库直流快充"):
    project = projects.register_project(
        db.session, provider,
        projects.ProjectInput(community_id=community.id, project_type=project_type, title=title,
                              planned_quantity=quantity, planned_investment_fen=investment_fen),
        actor=staff,
    )
    db.session.commit()
    return project


def evidence(photo: bytes | None = PNG):
    files = [(EvidenceKind.ACCEPTANCE_CERTIFICATE, io.BytesIO(PDF), "验收证书.pdf"),
             (EvidenceKind.INVOICE, io.BytesIO(PDF), "发票.pdf")]
    if photo is not None:
        files.append((EvidenceKind.PHOTO, io.BytesIO(photo), "现场.png"))
    return claims.store_evidence(files)


def file(provider, staff, project, *, quantity="120", investment_fen=30_000_000, requested_fen=None,
         accepted_on=None, clock=None):
    if clock is not None:
        clock.advance(days=30)
    data = claims.ClaimInput(accepted_on=accepted_on or today() - timedelta(days=1),
                             verified_quantity=Decimal(quantity), verified_investment_fen=investment_fen,
                             requested_fen=requested_fen, evidence=evidence())
    claim = claims.file_claim(db.session, provider, project.id, data, actor=staff)
    db.session.commit()
    return claim
