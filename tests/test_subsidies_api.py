"""The subsidies JSON API: every step, with problem documents and no IDOR."""

from __future__ import annotations

import io

import sqlalchemy as sa

from app.clock import today
from app.models import CommunityTier
from tests import factories
from tests import subsidy_helpers as h


def test_the_whole_flow_through_the_api(client, auth, en, db_session, clock):
    provider, staff, community = h.provider_with_staff(CommunityTier.BENCHMARK)
    auth.login(staff)
    listed = client.get("/api/v1/subsidy-policies").get_json()
    assert {p["project_type"] for p in listed["policies"]} >= {"ev_charger_dc", "ev_charger_ac"}
    bad = client.post("/api/v1/my/subsidies/projects", json={
        "community_id": community.id, "project_type": "rocket", "title": "x", "planned_quantity": "1",
        "planned_investment_fen": 100})
    assert bad.status_code == 422 and bad.get_json()["errors"] == {"project_type": ["Choose a project type from the list."]}
    created = client.post("/api/v1/my/subsidies/projects", json={
        "community_id": community.id, "project_type": "ev_charger_dc", "title": "直流快充站",
        "planned_quantity": "240", "planned_investment_fen": 80_000_000})
    assert created.status_code == 201
    project_id = created.get_json()["id"]
    clock.advance(days=40)
    body = {"accepted_on": today().isoformat(), "verified_quantity": "240", "verified_investment_fen": "80000000",
            "acceptance_certificate": (io.BytesIO(h.PDF), "cert.pdf"),
            "invoices": [(io.BytesIO(h.PDF), "inv.pdf")], "photos": [(io.BytesIO(h.PNG), "p.png")]}
    filed = client.post(f"/api/v1/my/subsidies/projects/{project_id}/claim", data=body,
                        content_type="multipart/form-data")
    assert filed.status_code == 201, filed.get_json()
    claim = filed.get_json()
    # 550 × 240 = 132,000; 30 % × 800,000 = 240,000; category 200,000; tier 1,000,000 → the rate binds.
    terms = {t["term"]: t["amount_fen"] for t in claim["terms"]}
    assert terms == {"rate": 13_200_000, "share": 24_000_000, "category": 20_000_000, "tier": 100_000_000}
    assert (claim["eligible_fen"], claim["binding_term"], claim["policy_version"]) == (13_200_000, "rate", 1)
    second = client.post(f"/api/v1/my/subsidies/projects/{project_id}/claim", data={
        **body, "acceptance_certificate": (io.BytesIO(h.PDF), "c.pdf"), "invoices": [(io.BytesIO(h.PDF), "i.pdf")],
        "photos": []}, content_type="multipart/form-data")
    assert second.status_code == 409 and "already has a claim" in second.get_json()["detail"]
    auth.logout()

    first, other = factories.official(), factories.official()
    auth.login(first)
    assert client.post(f"/api/v1/official/subsidies/claims/{claim['id']}/verify", json={}).status_code == 200
    same = client.post(f"/api/v1/official/subsidies/claims/{claim['id']}/approve", json={})
    assert same.status_code == 403 and same.mimetype == "application/problem+json"
    auth.logout()
    auth.login(other)
    approved = client.post(f"/api/v1/official/subsidies/claims/{claim['id']}/approve", json={})
    assert approved.status_code == 200 and approved.get_json()["status"] == "notice"
    auth.logout()

    auth.login(factories.resident(community))
    notices = client.get("/api/v1/subsidy-notices").get_json()
    assert [n["id"] for n in notices] == [claim["id"]] and notices[0]["approved_fen"] == 13_200_000
    objection = client.post(f"/api/v1/subsidy-notices/{claim['id']}/objections", json={"text": "数量不实"})
    assert objection.status_code == 201
    auth.logout()
    auth.login(other)
    resolved = client.post(f"/api/v1/official/subsidies/objections/{objection.get_json()['id']}/resolve",
                           json={"outcome": "dismissed", "note": "核实无误"})
    assert resolved.status_code == 200
    early = client.post(f"/api/v1/official/subsidies/claims/{claim['id']}/disburse")
    assert early.status_code == 409
    clock.advance(days=8)
    paid = client.post(f"/api/v1/official/subsidies/claims/{claim['id']}/disburse")
    assert paid.status_code == 200 and paid.get_json()["status"] == "disbursed"
    stop = client.post(f"/api/v1/official/subsidies/claims/{claim['id']}/early-stop",
                       json={"stopped_on": today().isoformat(), "reason": "停运"})
    assert stop.status_code == 200 and stop.get_json()["clawback_fen"] == 6_600_000  # 50 %


def test_no_idor_and_roles_are_checked(client, auth, db_session, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    _other, other_staff, _ = h.provider_with_staff()
    auth.login(other_staff)
    assert client.get(f"/api/v1/my/subsidies/claims/{claim.id}").status_code == 404
    assert client.get(f"/api/v1/my/subsidies/projects/{claim.project_id}").status_code == 404
    assert client.get("/api/v1/my/subsidies/claims").get_json() == []
    assert client.post(f"/api/v1/official/subsidies/claims/{claim.id}/verify", json={}).status_code == 403
    auth.logout()
    assert client.get("/api/v1/subsidy-notices").status_code == 401
    auth.login(factories.resident())
    assert client.get("/api/v1/my/subsidies/claims").status_code == 403
    assert client.post(f"/api/v1/subsidy-notices/{claim.id}/objections", json={"text": "x"}).status_code == 404


def test_bad_evidence_and_missing_fields_are_problem_documents(client, auth, en, db_session, clock):
    from billing.subsidies.models import SubsidyClaim

    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    clock.advance(days=10)
    auth.login(staff)
    url = f"/api/v1/my/subsidies/projects/{project.id}/claim"
    wrong = client.post(url, data={
        "accepted_on": today().isoformat(), "verified_quantity": "5", "verified_investment_fen": "100000",
        "acceptance_certificate": (io.BytesIO(b"<html>not a pdf</html>"), "cert.pdf"),
        "invoices": [(io.BytesIO(h.PDF), "i.pdf")]}, content_type="multipart/form-data")
    assert wrong.status_code == 422 and wrong.mimetype == "application/problem+json"
    assert wrong.get_json()["errors"] == {"acceptance_certificate": ["Only PDF, JPEG or PNG files are accepted."]}
    missing = client.post(url, data={"verified_quantity": "5"}, content_type="multipart/form-data")
    assert missing.status_code == 422 and {"accepted_on", "verified_investment_fen"} <= set(missing.get_json()["errors"])
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SubsidyClaim)) == 0
