"""The subsidy pages: a provider registers and claims, two officials decide, anyone objects."""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa

from app.clock import today
from app.models import CommunityTier
from billing.subsidies.models import ClaimStatus, SubsidyClaim, SubsidyEvidence, SubsidyProject
from tests import factories
from tests import subsidy_helpers as h
from tests.forms import submit


def register_page(client, community):
    return submit(client, "/provider/subsidies/projects/new", fields={
        "community_id": community.id, "project_type": "ev_charger_ac", "title": "小区交流慢充",
        "planned_quantity": "70", "planned_investment": "120000"})


def claim_data(**overrides):
    """The claim form's fields; files as (bytes, filename)."""
    data = {"accepted_on": today().isoformat(), "verified_quantity": "70", "verified_investment": "120000.00",
            "requested": "",
            "acceptance_certificate": (h.PDF, "验收.pdf"),
            "invoices": [(h.PDF, "发票1.pdf"), (h.PNG, "发票2.png")],
            "photos": [(h.PNG, "现场.png")]}
    data.update(overrides)
    return data


def file_claim(client, project_id, **overrides):
    """File the claim with the project page's multipart form as rendered."""
    return submit(client, f"/provider/subsidies/projects/{project_id}", action=f"/provider/subsidies/projects/{project_id}/claim",
                  fields=claim_data(**overrides))


def on_claim_page(client, claim_id, action, fields=None):
    """An official's form on the claim page: verify, approve, reject, disburse, early-stop."""
    return submit(client, f"/official/subsidies/claims/{claim_id}", action=f"/official/subsidies/claims/{claim_id}/{action}",
                  fields=fields)


def test_provider_registers_claims_and_sees_why(client, auth, en, db_session, clock):
    provider, staff, community = h.provider_with_staff(CommunityTier.GROWTH)
    auth.login(staff)
    assert client.get("/provider/subsidies").status_code == 200
    response = register_page(client, community)
    assert response.status_code == 302
    project = db_session.scalar(sa.select(SubsidyProject).where(SubsidyProject.provider_id == provider.id))
    clock.advance(days=20)
    response = file_claim(client, project.id)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # 150 × 70 = 10,500 < 30 % × 120,000 = 36,000 < caps: the rate binds.
    assert "¥10,500.00" in page and "¥36,000.00" in page and "binding" in page
    assert "Bound by: Rate per unit × verified quantity" in page
    claim = db_session.scalar(sa.select(SubsidyClaim).where(SubsidyClaim.project_id == project.id))
    assert len(claim.evidence) == 4
    evidence = claim.evidence[0]
    download = client.get(f"/subsidies/evidence/{evidence.id}")
    assert download.status_code == 200 and download.data == h.PDF


def test_wrong_evidence_type_is_refused_with_the_field_and_nothing_kept(client, auth, en, db_session, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    clock.advance(days=20)
    auth.login(staff)
    response = file_claim(client, project.id, photos=[(h.PDF, "photo.pdf")])
    assert response.status_code == 422
    assert "A photo must be a JPEG or PNG image" in response.get_data(as_text=True)
    response = file_claim(client, project.id, invoices=[(b"GIF89a...", "发票.pdf")])
    assert response.status_code == 422 and "Only PDF, JPEG or PNG" in response.get_data(as_text=True)
    response = file_claim(client, project.id, requested="999999")
    assert response.status_code == 422 and "You may request at most" in response.get_data(as_text=True)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SubsidyClaim)) == 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SubsidyEvidence)) == 0


def test_a_provider_cannot_reach_another_providers_project_claim_or_evidence(client, auth, db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    _other, other_staff, _ = h.provider_with_staff()
    auth.login(other_staff)
    assert client.get(f"/provider/subsidies/projects/{claim.project_id}").status_code == 404
    assert client.get(f"/provider/subsidies/claims/{claim.id}").status_code == 404
    assert client.get(f"/subsidies/evidence/{claim.evidence[0].id}").status_code == 404
    # Access rule: the project page is a 404, so the post is hand-made.
    data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else
            [(io.BytesIO(b), n) for b, n in v] if isinstance(v, list) else v for k, v in claim_data().items()}
    response = client.post(f"/provider/subsidies/projects/{claim.project_id}/claim", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 404
    assert client.get("/official/subsidies").status_code == 403


def test_two_officials_decide_and_one_cannot_do_both(client, auth, en, db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), quantity="10",
                   investment_fen=10_000_000, clock=clock)
    first, second = factories.official(), factories.official()
    auth.login(first)
    assert "¥5,500.00" in client.get("/official/subsidies").get_data(as_text=True)
    assert on_claim_page(client, claim.id, "verify", {"note": "资料齐全"}).status_code == 302
    # The verifier is not offered the city step: the page says why instead of the forms.
    page = client.get(f"/official/subsidies/claims/{claim.id}").get_data(as_text=True)
    assert 'id="approve-form"' not in page and 'id="reject-form"' not in page
    assert 'id="city-step-not-yours"' in page and "a different official must decide the city step" in page
    db_session.expire_all()
    assert db_session.get(SubsidyClaim, claim.id).status == ClaimStatus.VERIFIED
    auth.logout()
    auth.login(second)
    page = client.get(f"/official/subsidies/claims/{claim.id}").get_data(as_text=True)
    assert 'id="approve-form"' in page and 'id="city-step-not-yours"' not in page
    response = on_claim_page(client, claim.id, "approve", {"amount": "6000", "reason": ""})
    assert response.status_code == 422 and "At most ¥5,500.00 can be approved" in response.get_data(as_text=True)
    response = on_claim_page(client, claim.id, "approve", {"amount": "5000", "reason": "部分设备未验收"})
    assert response.status_code == 302
    db_session.expire_all()
    assert (claim.status, claim.approved_fen) == (ClaimStatus.NOTICE, 500_000)

    # Anyone logged in sees the notice; a resident of its community objects, which pauses the claim.
    auth.logout()
    resident = factories.resident(community)
    auth.login(resident)
    assert "¥5,000.00" in client.get("/subsidies/notices").get_data(as_text=True)
    notice = f"/subsidies/notices/{claim.id}"
    assert submit(client, notice, action=f"{notice}/object", fields={"text": ""}).status_code == 422
    assert submit(client, notice, action=f"{notice}/object", fields={"text": "设备未通电"}).status_code == 302
    db_session.expire_all()
    assert claim.status == ClaimStatus.OBJECTED
    auth.logout()
    auth.login(second)
    objection = claim.objections[0]
    response = submit(client, f"/official/subsidies/claims/{claim.id}",
                      action=f"/official/subsidies/objections/{objection.id}/resolve",
                      fields={"outcome": "dismissed", "note": "已现场核实"})
    assert response.status_code == 302
    clock.advance(days=8)
    response = on_claim_page(client, claim.id, "disburse")
    assert response.status_code == 302
    db_session.expire_all()
    assert claim.status == ClaimStatus.DISBURSED
    page = client.get(f"/official/subsidies/claims/{claim.id}").get_data(as_text=True)
    assert "Record an early stop" in page and "Subsidy paid out" in page
    stop = on_claim_page(client, claim.id, "early-stop",
                         {"stopped_on": (today() + timedelta(days=1)).isoformat(), "reason": "拆除"})
    assert stop.status_code == 422 and "cannot be in the future" in stop.get_data(as_text=True)


def test_officials_version_a_policy_from_the_page(client, auth, en, db_session):
    auth.login(factories.official())
    assert client.get("/official/subsidies/policies").status_code == 200
    policies = "/official/subsidies/policies"
    bad = submit(client, policies, action=f"{policies}/cctv", fields={
        "rate": "500", "share_percent": "130", "category_cap": "100000", "obligation_years": "5", "note": ""})
    assert bad.status_code == 422 and "at most 100 percent" in bad.get_data(as_text=True)
    good = submit(client, policies, action=f"{policies}/cctv", fields={
        "rate": "450.50", "share_percent": "25", "category_cap": "80000", "obligation_years": "5", "note": "2027"})
    assert good.status_code == 302
    from billing.subsidies.policies import current_policy

    policy = current_policy(db_session, "cctv")
    assert (policy.version, policy.rate_fen, policy.category_cap_fen) == (2, 45_050, 8_000_000)
    tier_cap = submit(client, policies, action="/official/subsidies/tier-caps/growth", fields={"cap": "-1", "note": ""})
    assert tier_cap.status_code == 422


def test_the_queue_filters_by_status_and_refuses_an_unknown_one(client, auth, db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    auth.login(factories.official())
    assert f"/official/subsidies/claims/{claim.id}" in client.get("/official/subsidies?status=submitted").get_data(as_text=True)
    assert f"/official/subsidies/claims/{claim.id}" not in client.get("/official/subsidies?status=notice").get_data(as_text=True)
    assert client.get("/official/subsidies?status=bogus").status_code == 400
