"""Build-then-subsidise: policies, the computation, filing, two-step review, notice,
objections, disbursement and the clawback (services)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.audit import trail
from app.clock import today
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound
from app.extensions import db
from app.models import CommunityTier
from app.notifications import Notification
from billing import ledger
from billing.models import LedgerTransaction
from billing.settlements import Period, penalty_transactions
from billing.subsidies import claims, obligations, policies, review
from billing.subsidies.jobs import disburse_subsidies
from billing.subsidies.models import (
    ClaimStatus,
    EvidenceKind,
    ObjectionStatus,
    SubsidyClaim,
    SubsidyCommunityYear,
    SubsidyPolicy,
)
from tests import factories
from tests import subsidy_helpers as h


@pytest.fixture(autouse=True)
def _english(app):
    """Messages are matched in English (the source msgids), whatever the catalogue says."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


def approved_claim(clock, tier=CommunityTier.BASIC, **kwargs):
    provider, staff, community = h.provider_with_staff(tier)
    project = h.register(provider, staff, community, **kwargs.pop("project", {}))
    claim = h.file(provider, staff, project, clock=clock, **kwargs)
    district, city = factories.official(), factories.official()
    review.verify(db.session, claim.id, official=district)
    review.approve(db.session, claim.id, official=city)
    db.session.commit()
    return claim, provider, staff, district, city


# --- Policies and the computation -------------------------------------------------


def test_default_policies_and_tier_caps_are_seeded(db_session):
    dc = policies.current_policy(db_session, "ev_charger_dc")
    assert (dc.version, dc.unit, dc.rate_fen, dc.share_percent) == (1, "kW", 55_000, Decimal("30.00"))
    assert policies.current_policy(db_session, "ev_charger_ac").rate_fen == 15_000
    caps = {c.tier: c.cap_fen for c in policies.current_tier_caps(db_session)}
    assert caps == {"benchmark": 100_000_000, "growth": 10_000_000, "basic": 10_000_000}


def test_an_edit_adds_a_version_and_leaves_the_old_one_and_its_claims_alone(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    claim = h.file(provider, staff, project, quantity="10", investment_fen=10_000_000, clock=clock)
    official = factories.official()
    new = policies.new_policy_version(db_session, project_type="ev_charger_dc", rate_fen=60_000,
                                      share_percent="25.5", category_cap_fen=15_000_000, actor=official,
                                      note="2027 rates")
    db_session.commit()
    assert new.version == 2 and new.share_percent == Decimal("25.50")
    old = db_session.scalar(sa.select(SubsidyPolicy).where(SubsidyPolicy.project_type == "ev_charger_dc",
                                                           SubsidyPolicy.version == 1))
    assert old.rate_fen == 55_000
    assert claim.policy_id == old.id and claim.rate_term_fen == 550_000
    assert policies.current_policy(db_session, "ev_charger_dc").id == new.id
    assert trail(db_session, "subsidy_policy", new.id)[0].action == "subsidy_policy.versioned"


@pytest.mark.parametrize("share, message", [("0", "more than 0"), ("101", "at most 100"), ("30.555", "two decimal")])
def test_a_bad_share_is_refused(db_session, en, share, message):
    from flask_babel import force_locale

    with force_locale("en"), pytest.raises(Invalid, match=message) as info:
        policies.new_policy_version(db_session, project_type="cctv", rate_fen=1, share_percent=share,
                                    category_cap_fen=1, actor=factories.official())
    assert info.value.field == "share_percent"
    assert policies.current_policy(db_session, "cctv").version == 1


def test_each_term_can_bind(db_session):
    dc = policies.current_policy(db_session, "ev_charger_dc")
    basic = policies.current_tier_cap(db_session, "basic")
    community = factories.community()

    def run(quantity, investment):
        return policies.compute(db_session, policy=dc, tier_cap=basic, community_id=community.id, year=2026,
                                quantity=Decimal(quantity), investment_fen=investment)

    assert run("10", 10_000_000).binding_term == "rate"  # 5,500 < 30,000
    share = run("100", 1_000_003)  # 30 % of 10,000.03 = 3,000.009 → 300,001 fen (half-up)
    assert share.binding_term == "share" and share.share_term_fen == 300_001
    category = policies.compute(db_session, policy=dc, tier_cap=policies.current_tier_cap(db_session, "benchmark"),
                                community_id=community.id, year=2026, quantity=Decimal("1000"),
                                investment_fen=100_000_000)
    assert category.binding_term == "category" and category.eligible_fen == 20_000_000
    tier = run("1000", 100_000_000)
    assert tier.binding_term == "tier" and tier.eligible_fen == 10_000_000
    rounded = run("7.25", 10_000_000)
    assert rounded.rate_term_fen == 398_750  # 550 × 7.25 = 3,987.50 yuan


# --- Filing ---------------------------------------------------------------------


def test_filing_records_every_term_the_versions_and_the_evidence(db_session, clock):
    provider, staff, community = h.provider_with_staff(CommunityTier.GROWTH)
    project = h.register(provider, staff, community)
    claim = h.file(provider, staff, project, quantity="120", investment_fen=30_000_000, clock=clock)
    assert (claim.rate_term_fen, claim.share_term_fen, claim.category_cap_fen, claim.tier_room_fen) == (
        6_600_000, 9_000_000, 20_000_000, 10_000_000)
    assert (claim.eligible_fen, claim.binding_term, claim.status) == (6_600_000, "rate", ClaimStatus.SUBMITTED)
    assert sorted(e.kind for e in claim.evidence) == ["acceptance_certificate", "invoice", "photo"]
    notes = db_session.scalars(sa.select(Notification).where(Notification.user_id == staff.id)).all()
    assert [n.kind for n in notes] == ["subsidy.filed"]


def test_a_claim_above_every_cap_is_capped_not_refused(db_session, clock):
    provider, staff, community = h.provider_with_staff(CommunityTier.BASIC)
    project = h.register(provider, staff, community)
    claim = h.file(provider, staff, project, quantity="9999", investment_fen=9_000_000_000, clock=clock)
    assert claim.eligible_fen == 10_000_000 and claim.binding_term == "tier"


def test_a_requested_amount_above_eligible_is_refused_with_the_reason(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    with pytest.raises(Invalid) as info:
        h.file(provider, staff, project, quantity="10", investment_fen=10_000_000, requested_fen=550_001, clock=clock)
    assert info.value.field == "requested_fen" and "5,500.00" in str(info.value)
    db_session.rollback()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SubsidyClaim)) == 0


def test_a_second_claim_on_the_same_project_is_refused(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    first = h.file(provider, staff, project, clock=clock)
    with pytest.raises(Conflict, match=f"#{first.id}"):
        h.file(provider, staff, project)


def test_the_database_refuses_a_second_claim_too(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    first = h.file(provider, staff, project, clock=clock)
    copy = {c.name: getattr(first, c.name) for c in SubsidyClaim.__table__.columns if c.name != "id"}
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(SubsidyClaim(**copy))
        db_session.flush()


def test_a_claim_on_an_unregistered_or_someone_elses_project_is_refused(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    other, other_staff, _ = h.provider_with_staff()
    project = h.register(other, other_staff, community)
    clock.advance(days=30)
    data = claims.ClaimInput(accepted_on=today(), verified_quantity="1", verified_investment_fen=100,
                             evidence=[])
    for project_id in (project.id, 999_999):
        with pytest.raises(NotFound):
            claims.file_claim(db_session, provider, project_id, data, actor=staff)


def test_accepted_before_registration_is_refused(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    with pytest.raises(Invalid) as info:
        h.file(provider, staff, project, accepted_on=today() - timedelta(days=3))
    assert info.value.field == "accepted_on"


def test_evidence_of_the_wrong_type_is_refused_and_nothing_stays_on_disk(app, db_session):
    from pathlib import Path

    before = set(Path(app.config["UPLOAD_DIR"]).glob("*")) if Path(app.config["UPLOAD_DIR"]).exists() else set()
    with pytest.raises(Invalid) as info:
        claims.store_evidence([(EvidenceKind.ACCEPTANCE_CERTIFICATE, io.BytesIO(h.PDF), "a.pdf"),
                               (EvidenceKind.INVOICE, io.BytesIO(b"MZ\x90\x00 not a pdf"), "发票.pdf")])
    assert info.value.field == "invoices"
    with pytest.raises(Invalid, match="JPEG or PNG") as info:
        claims.store_evidence([(EvidenceKind.PHOTO, io.BytesIO(h.PDF), "photo.png")])
    assert info.value.field == "photos"
    assert set(Path(app.config["UPLOAD_DIR"]).glob("*")) == before


def test_missing_certificate_is_refused(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    clock.advance(days=30)
    data = claims.ClaimInput(accepted_on=today(), verified_quantity="1", verified_investment_fen=100,
                             evidence=claims.store_evidence([(EvidenceKind.INVOICE, io.BytesIO(h.PDF), "i.pdf")]))
    with pytest.raises(Invalid) as info:
        claims.file_claim(db_session, provider, project.id, data, actor=staff)
    assert info.value.field == "acceptance_certificate"


# --- Review -----------------------------------------------------------------------


def test_the_same_official_cannot_do_both_steps(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    official = factories.official()
    review.verify(db_session, claim.id, official=official)
    db_session.commit()
    with pytest.raises(Forbidden):
        review.approve(db_session, claim.id, official=official)
    with pytest.raises(Forbidden):
        review.reject(db_session, claim.id, official=official, reason="不行")
    db_session.rollback()
    assert db_session.get(SubsidyClaim, claim.id).status == ClaimStatus.VERIFIED


def test_the_database_refuses_one_official_for_both_steps(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    official = factories.official()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(sa.update(SubsidyClaim).where(SubsidyClaim.id == claim.id)
                           .values(district_official_id=official.id, city_official_id=official.id))


def test_approval_before_verification_is_an_illegal_transition(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    with pytest.raises(IllegalTransition):
        review.approve(db_session, claim.id, official=factories.official())
    with pytest.raises(IllegalTransition):
        review.disburse(db_session, claim.id)


def test_partial_approval_needs_a_reason_and_cannot_exceed_eligible(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), quantity="10",
                   investment_fen=10_000_000, clock=clock)
    review.verify(db_session, claim.id, official=factories.official())
    city = factories.official()
    with pytest.raises(Invalid) as info:
        review.approve(db_session, claim.id, official=city, amount_fen=550_001)
    assert info.value.field == "amount_fen"
    with pytest.raises(Invalid) as info:
        review.approve(db_session, claim.id, official=city, amount_fen=500_000)
    assert info.value.field == "reason"
    review.approve(db_session, claim.id, official=city, amount_fen=500_000, reason="两台设备未通电")
    assert (claim.approved_fen, claim.decision_reason, claim.status) == (500_000, "两台设备未通电", ClaimStatus.NOTICE)
    assert review.approve.__doc__ and claim.notice_ends_at == review.now() + timedelta(days=7)


def test_rejection_carries_its_reason_to_the_provider(db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    official = factories.official()
    with pytest.raises(Invalid):
        review.reject(db_session, claim.id, official=official, reason="  ")
    review.reject(db_session, claim.id, official=official, reason="发票与验收证书金额不符")
    assert claim.status == ClaimStatus.REJECTED
    kinds = db_session.scalars(sa.select(Notification.kind).where(Notification.user_id == staff.id)).all()
    assert "subsidy.rejected" in kinds
    assert [e.action for e in trail(db_session, "subsidy_claim", claim.id)] == [
        "subsidy_claim.filed", "subsidy_claim.rejected"]


def test_the_tier_cap_counts_what_the_community_was_awarded_this_year(db_session, clock):
    community = factories.community(tier=CommunityTier.BASIC)
    provider, staff, _ = h.provider_with_staff(community=community)
    first = h.register(provider, staff, community, title="一期")
    second = h.register(provider, staff, community, title="二期")
    clock.advance(days=30)
    a = h.file(provider, staff, first, quantity="120", investment_fen=30_000_000)  # 66,000 yuan
    b = h.file(provider, staff, second, quantity="120", investment_fen=30_000_000)
    for claim in (a, b):
        review.verify(db_session, claim.id, official=factories.official())
    review.approve(db_session, a.id, official=factories.official())
    db_session.commit()
    with pytest.raises(Conflict, match="34,000.00"):  # 100,000 − 66,000 left
        review.approve(db_session, b.id, official=factories.official())
    db_session.rollback()
    review.approve(db_session, b.id, official=factories.official(), amount_fen=3_400_000, reason="年度上限")
    assert (b.tier_room_fen, b.binding_term, b.approved_fen) == (3_400_000, "tier", 3_400_000)
    counter = db_session.get(SubsidyCommunityYear, (community.id, today().year))
    assert counter.awarded_fen == 10_000_000


# --- Notice, objections, disbursement --------------------------------------------------


def test_notice_then_the_job_pays_through_the_ledger(db_session, clock):
    claim, provider, staff, *_ = approved_claim(clock, quantity="10", investment_fen=10_000_000)
    assert disburse_subsidies(db_session) == 0
    with pytest.raises(Conflict):
        review.disburse(db_session, claim.id, actor=factories.official())
    clock.advance(days=7, minutes=1)
    assert disburse_subsidies(db_session) == 1
    assert disburse_subsidies(db_session) == 0  # idempotent
    assert claim.status == ClaimStatus.DISBURSED
    assert ledger.balance(db_session, "subsidies_paid") == 550_000
    # Owed to the provider until the month's settlement pays it out.
    assert ledger.balance(db_session, ledger.provider_payable_code(provider.id)) == -550_000
    assert ledger.is_balanced(db_session)
    kinds = db_session.scalars(sa.select(LedgerTransaction.kind).where(
        LedgerTransaction.cause_type == "subsidy_claim", LedgerTransaction.cause_id == claim.id)).all()
    assert kinds == ["subsidy"]
    obligation = obligations.obligation_of(db_session, claim.id)
    assert obligation.ends_on == obligations.add_years(claim.accepted_on, 5)


def test_an_objection_pauses_the_claim_and_a_dismissal_resumes_the_time_left(db_session, clock):
    claim, provider, staff, district, city = approved_claim(clock)
    ends = claim.notice_ends_at
    resident = factories.resident(claim.project.community)
    with pytest.raises(Forbidden):
        review.object_to(db_session, claim.id, user=staff, text="我反对")
    clock.advance(days=2)
    objection = review.object_to(db_session, claim.id, user=resident, text="充电桩并未投入使用")
    assert claim.status == ClaimStatus.OBJECTED
    with pytest.raises(Conflict):
        review.object_to(db_session, claim.id, user=resident, text="再次反对")
    clock.advance(days=10)  # the notice would have ended: paused, nothing is paid
    assert disburse_subsidies(db_session) == 0
    with pytest.raises(Invalid):
        review.resolve_objection(db_session, objection.id, official=city, outcome="dismissed", note="")
    review.resolve_objection(db_session, objection.id, official=city, outcome="dismissed",
                             note="现场核查，设备运行正常")
    assert claim.status == ClaimStatus.NOTICE and claim.notice_ends_at == ends + timedelta(days=10)
    clock.advance(days=5, minutes=1)
    assert disburse_subsidies(db_session) == 1


def test_an_upheld_objection_rejects_the_claim_and_frees_the_cap(db_session, clock):
    claim, provider, staff, district, city = approved_claim(clock)
    year = claim.award_year
    community_id = claim.project.community_id
    assert db_session.get(SubsidyCommunityYear, (community_id, year)).awarded_fen == claim.approved_fen
    objection = review.object_to(db_session, claim.id, user=factories.resident(claim.project.community),
                                 text="虚报数量")
    review.resolve_objection(db_session, objection.id, official=city, outcome="upheld", note="核实虚报")
    db_session.expire_all()
    assert claim.status == ClaimStatus.REJECTED and objection.status == ObjectionStatus.UPHELD
    assert db_session.get(SubsidyCommunityYear, (community_id, year)).awarded_fen == 0
    with pytest.raises(IllegalTransition):
        review.disburse(db_session, claim.id)


# --- The obligation and the clawback ------------------------------------------------


@pytest.mark.parametrize("years_later, percent", [(1, 50), (3, 30), (4, 30)])
def test_an_early_stop_claws_back_against_the_next_settlement(db_session, clock, years_later, percent):
    claim, provider, staff, district, city = approved_claim(clock, quantity="10", investment_fen=10_000_000)
    clock.advance(days=8)
    review.disburse(db_session, claim.id, actor=district)
    clock.set(clock.now().replace(year=clock.now().year + years_later))
    stopped = obligations.add_years(claim.accepted_on, years_later)
    obligation = obligations.record_early_stop(db_session, claim.id, official=city, stopped_on=stopped,
                                               reason="设备拆除")
    assert (obligation.clawback_percent, obligation.clawback_fen) == (percent, 550_000 * percent // 100)
    today_ = today()
    deducted = penalty_transactions(db_session, provider.id, Period(today_.year, today_.month))
    assert [amount for _txn, amount in deducted] == [obligation.clawback_fen]
    assert deducted[0][0].cause_type == "subsidy_clawback"
    with pytest.raises(Conflict):
        obligations.record_early_stop(db_session, claim.id, official=city, stopped_on=stopped, reason="again")


def test_a_stop_after_the_obligation_owes_nothing(db_session, clock):
    claim, provider, staff, district, city = approved_claim(clock)
    clock.advance(days=8)
    review.disburse(db_session, claim.id, actor=district)
    clock.set(clock.now().replace(year=clock.now().year + 6))
    with pytest.raises(Conflict, match="nothing is clawed back"):
        obligations.record_early_stop(db_session, claim.id, official=city,
                                      stopped_on=obligations.add_years(claim.accepted_on, 5), reason="到期")


def test_add_years_handles_the_leap_day():
    assert obligations.add_years(date(2028, 2, 29), 5) == date(2033, 2, 28)


def test_the_demo_claim_waits_for_review_with_the_worked_computation(db_session):
    from billing.subsidies.demo import DEMO_TITLE, load_subsidy_demo
    from providers.demo import load_demo

    load_demo(db_session)
    assert load_subsidy_demo(db_session) is True
    assert load_subsidy_demo(db_session) is False  # idempotent
    claim = db_session.scalar(sa.select(SubsidyClaim).join(SubsidyClaim.project)
                              .where(sa.literal_column("subsidy_project.title") == DEMO_TITLE))
    assert claim.status == ClaimStatus.SUBMITTED and claim.provider.name == "安康居家养老服务中心"
    assert (claim.rate_term_fen, claim.share_term_fen, claim.category_cap_fen, claim.tier_room_fen) == (
        12_000_000, 10_766_666, 15_000_000, 100_000_000)
    assert (claim.eligible_fen, claim.binding_term) == (10_766_666, "share")


def test_the_notice_length_is_configurable(app, db_session, clock):
    app.config["LINLI_SUBSIDY_NOTICE_DAYS"] = 3
    try:
        claim, *_ = approved_claim(clock)
        assert claim.notice_ends_at == review.now() + timedelta(days=3)
    finally:
        app.config.pop("LINLI_SUBSIDY_NOTICE_DAYS")


def test_the_provider_is_told_each_step_in_its_own_language(db_session, clock):
    from flask_babel import force_locale

    claim, provider, staff, district, city = approved_claim(clock)
    objection = review.object_to(db_session, claim.id, user=factories.resident(claim.project.community), text="存疑")
    review.resolve_objection(db_session, objection.id, official=city, outcome="dismissed", note="已核实")
    notes = db_session.scalars(sa.select(Notification).where(Notification.user_id == staff.id)
                               .order_by(Notification.id)).all()
    assert [n.kind for n in notes] == ["subsidy.filed", "subsidy.verified", "subsidy.approved", "subsidy.objected",
                                       "subsidy.objection_resolved"]
    with force_locale("en"):
        assert notes[-1].message == f"The objection to claim #{claim.id} ({claim.project.title}) was Dismissed: 已核实"


def test_the_database_refuses_to_change_or_delete_a_policy_version(db_session):
    from sqlalchemy.exc import DatabaseError

    from billing.subsidies.models import SubsidyTierCap

    for statement in (sa.update(SubsidyPolicy).values(rate_fen=1), sa.delete(SubsidyTierCap)):
        with pytest.raises(DatabaseError, match="immutable"), db_session.begin_nested():
            db_session.execute(statement)
    assert policies.current_policy(db_session, "ev_charger_dc").rate_fen == 55_000


def test_the_clawback_is_deducted_by_the_monthly_settlement(db_session, clock):
    from billing.settlements import settle

    claim, provider, staff, district, city = approved_claim(clock, quantity="10", investment_fen=10_000_000)
    clock.advance(days=8)
    review.disburse(db_session, claim.id, actor=district)
    payable = ledger.provider_payable_code(provider.id)
    assert ledger.balance(db_session, payable) == -550_000  # owed to the provider
    clock.set(clock.now().replace(year=clock.now().year + 1))
    obligation = obligations.record_early_stop(db_session, claim.id, official=city, stopped_on=today(),
                                               reason="设备停运")
    month = Period(today().year, today().month)
    clock.set(clock.now() + timedelta(days=32))
    settlement = settle(db_session, provider.id, month)
    assert (settlement.penalties_fen, settlement.net_fen) == (275_000, -275_000)  # 50 % of ¥5,500
    assert obligation.clawback_fen == 275_000
    assert ledger.balance(db_session, payable) == -550_000 + 275_000


def test_a_disbursed_subsidy_is_paid_out_with_the_months_settlement(db_session, clock):
    from billing import payouts
    from billing.payment_models import PayoutStatus
    from billing.settlements import payout_of, settle

    claim, provider, staff, district, city = approved_claim(clock, quantity="10", investment_fen=10_000_000)
    clock.advance(days=8)
    review.disburse(db_session, claim.id, actor=district)
    month = Period(today().year, today().month)
    clock.set(clock.now() + timedelta(days=32))
    settlement = settle(db_session, provider.id, month)
    assert (settlement.subsidies_fen, settlement.net_fen) == (550_000, 550_000)
    payout = payout_of(db_session, settlement)
    assert payout is not None and payout.amount_fen == 550_000 and payout.status == PayoutStatus.PENDING
    payouts.confirm_bank_file(db_session, month.key, actor=city)  # the offline gateway: the bank file
    assert payout.status == PayoutStatus.PAID
    assert ledger.balance(db_session, ledger.provider_payable_code(provider.id)) == 0
    assert ledger.balance(db_session, "subsidy_fund") == -550_000
    assert ledger.balance(db_session, "subsidies_paid") == 550_000
    assert ledger.is_balanced(db_session)
    assert settle(db_session, provider.id, month) is settlement  # settling again pays nothing twice
    assert settlement.subsidies_fen == 550_000


def test_only_an_active_provider_registers_projects(db_session):
    from billing.subsidies import projects
    from providers.models import ProviderStatus

    community = factories.community()
    pending = factories.provider(status=ProviderStatus.PENDING, communities=[community])
    with pytest.raises(Conflict, match="active provider"):
        h.register(pending, factories.staff(pending), community)
    assert projects.projects_of(db_session, pending) == []
