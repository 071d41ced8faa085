"""The programme API: every action, access-checked, problem documents with the field at fault."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from billing.payment_models import Payment
from billing.programmes.models import Enrolment, PurchaseProgramme, SensitiveDataAccess
from tests import factories
from tests.programme_helpers import enrolled_resident, open_programme


def _body(community_id, **overrides):
    data = {
        "title": "居家养老上门服务", "service_content": "上门助洁", "category_codes": ["housekeeping"],
        "start_date": "2026-11-01", "end_date": "2027-10-31", "quantity": 1000, "quality_requirements": "持证上岗",
        "unit_price_fen": 8000, "settlement_method": "按月结算", "performance_targets": "满意度 ≥ 90%",
        "breach_liability": "按次扣减", "budget_fen": 100_000, "allowance_per_month": 8,
        "community_ids": [community_id], "min_age": 60, "requires_living_alone": True,
    }
    data.update(overrides)
    return data


def test_an_official_runs_a_programme_through_the_api(client, auth, en):
    official, provider = factories.official(), factories.provider()
    community = provider.communities[0]
    auth.login(official)
    bad = client.post("/api/v1/official/programmes", json=_body(community.id, end_date="2030-10-31"))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "at most 1 year" in bad.json["errors"]["end_date"][0]
    negative = client.post("/api/v1/official/programmes", json=_body(community.id, budget_fen=-1))
    assert negative.status_code == 422 and "budget_fen" in negative.json["errors"]
    zero = client.post("/api/v1/official/programmes", json=_body(community.id, budget_fen=0))
    assert zero.status_code == 201
    pid = zero.json["id"]
    assert client.post(f"/api/v1/official/programmes/{pid}/awards",
                       json={"provider_id": provider.id, "contract_price_fen": 6000, "quota": 100}).status_code == 201
    refused = client.post(f"/api/v1/official/programmes/{pid}/open", json={})
    assert refused.status_code == 422 and "No budget, no purchase" in refused.json["detail"]
    assert client.put(f"/api/v1/official/programmes/{pid}", json=_body(community.id)).status_code == 200
    opened = client.post(f"/api/v1/official/programmes/{pid}/open", json={})
    assert opened.status_code == 200 and opened.json["status"] == "open"
    resident, other = factories.resident(community), factories.resident(community)
    enrolled = client.post(f"/api/v1/official/programmes/{pid}/enrolments",
                           json={"phone": resident.phone, "birth_date": "1950-01-01", "lives_alone": True})
    assert enrolled.status_code == 201 and enrolled.json["status"] == "enrolled"
    report = client.post(f"/api/v1/official/programmes/{pid}/enrolments/csv", json={
        "csv": f"phone,birth_date,lives_alone,low_income,disability\n{other.phone},1949-01-01,yes,no,no\nbad,,,,\n"})
    assert [r["ok"] for r in report.json] == [True, False]
    eid = enrolled.json["id"]
    details = client.post(f"/api/v1/official/programmes/{pid}/enrolments/{eid}/details", json={"reason": "核查"})
    assert details.json["birth_date"] == "1950-01-01"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SensitiveDataAccess)) == 1
    no_reason = client.post(f"/api/v1/official/programmes/{pid}/enrolments/{eid}/withdrawal", json={})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    budget = client.get(f"/api/v1/official/programmes/{pid}/budget").json
    assert (budget["committed"], budget["remaining"], budget["reserved"]) == (100_000, 100_000, 0)
    assert client.post(f"/api/v1/official/programmes/{pid}/close", json={"reason": "到期"}).status_code == 200
    assert client.post(f"/api/v1/official/programmes/{pid}/evaluation",
                       json={"result": "优秀"}).json["evaluation_result"] == "优秀"
    assert client.get(f"/api/v1/programmes/{pid}").json["awards"][0]["provider_id"] == provider.id


def test_a_resident_applies_and_books_with_the_entitlement_through_the_api(client, auth, en):
    programme, award, listing, member, official, community = open_programme(allowance=1)
    applicant = factories.resident(community)
    auth.login(applicant)
    applied = client.post(f"/api/v1/programmes/{programme.id}/applications",
                          json={"birth_date": "1950-01-01", "lives_alone": True})
    assert applied.status_code == 201 and applied.json["status"] == "applied"
    auth.logout()
    resident = enrolled_resident(programme, official, community)
    auth.login(resident)
    mine = client.get("/api/v1/my/entitlements").json
    assert mine[0]["left"] == 1 and listing.id in mine[0]["listing_ids"]
    slot = factories.next_slot(listing, 1).isoformat()
    booked = client.post("/api/v1/my/entitlements/bookings",
                         json={"listing_id": listing.id, "starts_at": slot, "address": "3号楼"})
    assert booked.status_code == 201 and booked.json["amount_fen"] == 6000
    again = client.post("/api/v1/my/entitlements/bookings",
                        json={"listing_id": listing.id, "starts_at": factories.next_slot(listing, 2).isoformat(),
                              "address": "3号楼"})
    assert again.status_code == 409 and "allowance for 2026-11 is used up" in again.json["detail"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_the_api_checks_who_calls(client, auth):
    programme, award, listing, member, official, community = open_programme()
    assert client.get("/api/v1/official/programmes").status_code == 401
    resident = factories.resident(community)
    auth.login(resident)
    assert client.get("/api/v1/official/programmes").status_code == 403
    assert client.post(f"/api/v1/official/programmes/{programme.id}/enrolments",
                       json={"phone": resident.phone}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment)) == 0
    auth.logout()
    auth.login(member)
    assert client.get("/api/v1/my/entitlements").status_code == 403
    assert client.get("/api/v1/programmes").status_code == 200
    assert client.get(f"/api/v1/programmes/{programme.id}").status_code == 200
    assert db.session.get(PurchaseProgramme, programme.id).status.value == "open"


def test_the_programme_api_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/official/programmes" in paths and "/api/v1/my/entitlements/bookings" in paths
