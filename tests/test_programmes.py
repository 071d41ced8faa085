"""Purchase programmes: contract terms, states, awards, publication, budget in the ledger."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.audit import AuditEvent
from app.errors import IllegalTransition, Invalid
from app.extensions import db
from billing import ledger
from billing.programmes import programmes
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme
from providers.models import ProviderStatus
from tests import factories
from tests.programme_helpers import open_programme, terms
from tests.helpers import count


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in English (the source language)."""
    with force_locale("en"):
        yield


def test_a_four_year_term_is_refused_with_the_limit_and_nothing_is_created():
    official, community = factories.official(), factories.community()
    with pytest.raises(Invalid) as refused:
        programmes.create_programme(db.session, official, terms([community.id], start_date=date(2026, 11, 1),
                                                                 end_date=date(2030, 10, 31)))
    assert refused.value.field == "end_date"
    assert "at most 1 year" in str(refused.value) and "2027-10-31" in str(refused.value)
    assert count(PurchaseProgramme) == 0


def test_a_stable_service_may_run_three_years_but_not_four():
    official, community = factories.official(), factories.community()
    with pytest.raises(Invalid, match="at most 3 years"):
        programmes.create_programme(db.session, official, terms([community.id], stable_service=True,
                                                                 end_date=date(2030, 10, 31)))
    programme = programmes.create_programme(db.session, official, terms([community.id], stable_service=True,
                                                                         end_date=date(2029, 10, 31)))
    assert programme.status == ProgrammeStatus.DRAFT


def test_a_negative_budget_is_refused():
    official, community = factories.official(), factories.community()
    with pytest.raises(Invalid, match="cannot be negative") as refused:
        programmes.create_programme(db.session, official, terms([community.id], budget_fen=-100))
    assert refused.value.field == "budget_fen"
    assert count(PurchaseProgramme) == 0


@pytest.mark.parametrize("missing", ["service_content", "quality_requirements", "settlement_method",
                                     "performance_targets", "breach_liability"])
def test_every_contract_term_of_article_23_is_required(missing):
    official, community = factories.official(), factories.community()
    with pytest.raises(Invalid, match="Art. 23") as refused:
        programmes.create_programme(db.session, official, terms([community.id], **{missing: "  "}))
    assert refused.value.field == missing


def test_no_budget_no_purchase_a_draft_with_budget_zero_cannot_open():
    official, provider = factories.official(), factories.provider()
    programme = programmes.create_programme(db.session, official,
                                            terms([provider.communities[0].id], budget_fen=0))
    programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=5000, quota=10)
    db.session.commit()
    with pytest.raises(Invalid, match="No budget, no purchase"):
        programmes.open_programme(db.session, programme, official)
    db.session.rollback()
    assert db.session.get(PurchaseProgramme, programme.id).status == ProgrammeStatus.DRAFT
    assert ledger.balance(db.session, programmes.budget_code(programme.id)) == 0


def test_the_database_refuses_an_open_programme_without_budget():
    programme, *_ = open_programme()
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.update(PurchaseProgramme).where(PurchaseProgramme.id == programme.id)
                               .values(budget_fen=0))


def test_opening_commits_the_budget_in_the_ledger_and_audits_it():
    programme, _award, _listing, _member, official, _community = open_programme(budget_fen=250_000)
    assert programme.status == ProgrammeStatus.OPEN
    assert -ledger.balance(db.session, programmes.budget_code(programme.id)) == 250_000
    assert ledger.is_balanced(db.session)
    actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "programme",
                                                                        AuditEvent.object_id == programme.id)))
    assert {"programme.created", "programme.awarded", "programme.open"} <= actions


def test_opening_needs_an_award():
    official, community = factories.official(), factories.community()
    programme = programmes.create_programme(db.session, official, terms([community.id]))
    with pytest.raises(Invalid, match="Award the programme"):
        programmes.open_programme(db.session, programme, official)


def test_the_state_machine_refuses_illegal_moves():
    programme, _a, _l, _m, official, _c = open_programme()
    with pytest.raises(IllegalTransition):
        programmes.record_evaluation(db.session, programme, official, "good")  # not closed yet
    with pytest.raises(IllegalTransition):
        programmes.update_programme(db.session, programme, official, terms([c.id for c in programme.communities]))
    programmes.close_programme(db.session, programme, official)
    programmes.record_evaluation(db.session, programme, official, "优秀：满意度 96%")
    assert programme.status == ProgrammeStatus.EVALUATED
    with pytest.raises(IllegalTransition):
        programmes.open_programme(db.session, programme, official)


def test_only_active_providers_can_be_awarded():
    official, community = factories.official(), factories.community()
    programme = programmes.create_programme(db.session, official, terms([community.id]))
    pending = factories.provider(status=ProviderStatus.PENDING)
    with pytest.raises(Invalid, match="not active") as refused:
        programmes.award(db.session, programme, official, provider_id=pending.id, contract_price_fen=5000, quota=5)
    assert refused.value.field == "provider_id"
    active = factories.provider()
    with pytest.raises(Invalid, match="contract price"):
        programmes.award(db.session, programme, official, provider_id=active.id, contract_price_fen=0, quota=5)
    programmes.award(db.session, programme, official, provider_id=active.id, contract_price_fen=5000, quota=5)
    with pytest.raises(Invalid, match="already has an award"):
        programmes.award(db.session, programme, official, provider_id=active.id, contract_price_fen=5000, quota=5)


def test_the_page_is_public_once_opened_with_awardee_amount_term_and_evaluation(client, en):
    official, provider = factories.official(), factories.provider()
    programme = programmes.create_programme(db.session, official, terms([provider.communities[0].id]))
    programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=6000, quota=100)
    db.session.commit()
    assert client.get(f"/programmes/{programme.id}").status_code == 404  # a draft is not public
    programmes.open_programme(db.session, programme, official)
    db.session.commit()
    page = client.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert provider.name in page and "¥1,000.00" in page and "2026-11-01 – 2027-10-31" in page
    assert "¥60.00" in page
    programmes.close_programme(db.session, programme, official)
    programmes.record_evaluation(db.session, programme, official, "良好：满意度 92%")
    db.session.commit()
    assert "良好：满意度 92%" in client.get(f"/programmes/{programme.id}").get_data(as_text=True)
