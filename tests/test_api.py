"""The JSON API under /api/v1: catalogue, a provider's listings, vetting, auth."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.auth.services import issue_token, revoke_token
from app.extensions import db
from providers.models import Listing, ListingStatus, ListingVersion, ProviderStatus
from tests import factories
from tests.conftest import csrf_token_from
from tests.helpers import assert_problem, bearer, count

PROBLEM = "application/problem+json"


def payload(provider, **changes) -> dict:
    data = {
        "category_id": factories.category("housekeeping").id,
        "title": "深度保洁 API",
        "description": "三小时深度保洁，自带工具。",
        "price_fen": 15000,
        "pricing_unit": "per_visit",
        "duration_minutes": 120,
        "response_hours": 4,
        "community_ids": [c.id for c in provider.communities],
        "availability": [{"weekday": 0, "start_minute": 540, "end_minute": 1020, "capacity": 2}],
    }
    data.update(changes)
    return data


@pytest.fixture
def shop():
    """An active provider with one staff member and one published listing."""
    provider = factories.provider()
    return provider, factories.staff(provider), factories.listing(provider, title="上门保洁 shopA")


# --- The public catalogue -------------------------------------------------------


def test_catalogue_shows_published_listings_of_active_providers(client):
    provider = factories.provider(name="安康")
    shown = factories.listing(provider, title="助餐 zzq", rating_sum=10, rating_count=2)
    factories.listing(provider, status=ListingStatus.DRAFT, title="草稿 zzq")
    factories.listing(factories.provider(status=ProviderStatus.SUSPENDED), title="停 zzq")
    body = client.get("/api/v1/catalogue?q=zzq").get_json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (1, 1, 20, 1)
    item = body["items"][0]
    assert item["id"] == shown.id and item["title"] == "助餐 zzq"
    assert item["category"] == {"code": "housekeeping", "name": shown.category.name_zh}
    assert item["provider"] == {"id": provider.id, "name": "安康"}
    assert (item["price_fen"], item["pricing_unit"], item["duration_minutes"]) == (12000, "per_visit", 120)
    assert item["rating_mean"] == pytest.approx((4.0 * 5 + 10) / 7, abs=0.01)
    assert item["rating_count"] == 2


def test_catalogue_filters_sorts_and_pages(client):
    provider = factories.provider()
    cheap = factories.listing(provider, title="a qqf", price_fen=5000)
    dear = factories.listing(provider, title="b qqf", price_fen=30000)
    repair = factories.listing(provider, title="c qqf", price_fen=9000, category_code="repairs")

    def ids(query):
        response = client.get(f"/api/v1/catalogue?q=qqf&{query}")
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("sort=price_asc") == [cheap.id, repair.id, dear.id]
    assert ids("sort=price_desc") == [dear.id, repair.id, cheap.id]
    assert ids("category=repairs") == [repair.id]
    assert ids("min_price_fen=6000&max_price_fen=10000") == [repair.id]
    assert ids(f"provider_id={provider.id}&sort=price_asc&per_page=2&page=2") == [dear.id]
    assert ids(f"provider_id={provider.id + 1000}") == []
    assert ids("category=&sort=price_asc") == [cheap.id, repair.id, dear.id]
    body = client.get("/api/v1/catalogue?q=qqf&per_page=2").get_json()
    assert (body["total"], body["pages"]) == (3, 2)


def test_catalogue_defaults_to_a_logged_in_residents_community(client, auth):
    home, other = factories.community(), factories.community()
    mine = factories.listing(factories.provider(communities=[home]), title="x rcm")
    theirs = factories.listing(factories.provider(communities=[other]), title="y rcm")
    resident = factories.resident(home)
    anonymous = client.get("/api/v1/catalogue?q=rcm").get_json()
    assert {i["id"] for i in anonymous["items"]} == {mine.id, theirs.id}
    by_token = client.get("/api/v1/catalogue?q=rcm", headers=bearer(resident)).get_json()
    assert [i["id"] for i in by_token["items"]] == [mine.id] and by_token["community_id"] == home.id
    auth.login(resident)
    assert [i["id"] for i in client.get("/api/v1/catalogue?q=rcm").get_json()["items"]] == [mine.id]
    chosen = client.get(f"/api/v1/catalogue?q=rcm&community_id={other.id}").get_json()
    assert [i["id"] for i in chosen["items"]] == [theirs.id]
    everywhere = client.get("/api/v1/catalogue?q=rcm&all_communities=true").get_json()
    assert {i["id"] for i in everywhere["items"]} == {mine.id, theirs.id} and everywhere["community_id"] is None


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        ("min_price_fen=-1", "min_price_fen"),
        ("max_price_fen=abc", "max_price_fen"),
        ("min_price_fen=500&max_price_fen=100", "max_price_fen"),
        ("sort=cheapest", "sort"),
        ("community_id=x", "community_id"),
        ("all_communities=maybe", "all_communities"),
        ("category=no-such-category", "category"),
    ],
)
def test_catalogue_rejects_bad_parameters(client, query, field):
    assert_problem(client.get(f"/api/v1/catalogue?{query}"), 422, field)


def test_reference_lists(client):
    community = factories.community(name="般阳社区")
    categories = client.get("/api/v1/categories").get_json()
    assert {"housekeeping", "repairs"} <= {c["code"] for c in categories}
    assert all({"id", "code", "name", "kind"} <= set(c) for c in categories)
    communities = client.get("/api/v1/communities").get_json()
    assert {"id": community.id, "code": community.code, "name": "般阳社区", "district": "淄川区"} in communities


def test_public_listing_detail_and_404_when_not_public(client):
    listing = factories.listing()
    body = client.get(f"/api/v1/listings/{listing.id}").get_json()
    assert body["id"] == listing.id and body["description"] == listing.description
    assert body["response_hours"] == 4
    assert body["availability"][0] == {"weekday": 0, "start_minute": 540, "end_minute": 1020, "capacity": 2}
    assert len(body["availability"]) == 5
    assert body["communities"] == [{"id": c.id, "name": c.name} for c in listing.communities]
    draft = factories.listing(status=ListingStatus.DRAFT)
    hidden = factories.listing(factories.provider(status=ProviderStatus.SUSPENDED))
    for listing_id in (draft.id, hidden.id, 999999):
        assert_problem(client.get(f"/api/v1/listings/{listing_id}"), 404)


def test_public_provider_profile_lists_only_published_listings(client):
    provider = factories.provider(name="洁美家政", description="十年经验")
    published = factories.listing(provider)
    factories.listing(provider, status=ListingStatus.PAUSED)
    body = client.get(f"/api/v1/providers/{provider.id}").get_json()
    assert (body["id"], body["name"], body["description"]) == (provider.id, "洁美家政", "十年经验")
    assert [item["id"] for item in body["listings"]] == [published.id]
    assert {c["code"] for c in body["categories"]} == {"housekeeping", "repairs"}
    assert "contact_phone" not in body and "credit_code" not in body
    pending = factories.provider(status=ProviderStatus.PENDING)
    assert_problem(client.get(f"/api/v1/providers/{pending.id}"), 404)


# --- A provider's own listings ---------------------------------------------------


def test_staff_list_create_edit_publish_and_read_versions(client, shop):
    provider, staff, existing = shop
    factories.listing(factories.provider())  # someone else's
    headers = bearer(staff)
    mine = client.get("/api/v1/my/listings", headers=headers).get_json()
    assert [(i["id"], i["status"]) for i in mine] == [(existing.id, "published")]

    created = client.post("/api/v1/my/listings", json=payload(provider), headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["status"], body["version"], body["price_fen"]) == ("draft", 1, 15000)
    listing_id = body["id"]
    assert db.session.get(Listing, listing_id).provider_id == provider.id

    changed = payload(provider, title="深度保洁 v2", price_fen=18000,
                      availability=[{"weekday": 5, "start_minute": 480, "end_minute": 720, "capacity": 3}])
    response = client.put(f"/api/v1/my/listings/{listing_id}", json={**changed, "version": 1}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["title"], body["version"], body["price_fen"]) == ("深度保洁 v2", 2, 18000)
    assert body["availability"] == changed["availability"]
    assert client.get(f"/api/v1/my/listings/{listing_id}", headers=headers).get_json() == body

    stale = client.put(f"/api/v1/my/listings/{listing_id}", json={**changed, "version": 1}, headers=headers)
    assert_problem(stale, 409)
    published = client.post(f"/api/v1/my/listings/{listing_id}/status", json={"status": "published"},
                            headers=headers)
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert client.get(f"/api/v1/listings/{listing_id}").status_code == 200

    versions = client.get(f"/api/v1/my/listings/{listing_id}/versions", headers=headers).get_json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["snapshot"]["title"] == "深度保洁 API" and versions[0]["created_by_id"] == staff.id
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_type == "listing",
                                           AuditEvent.object_id == listing_id)
    ).all()
    assert sorted(actions) == ["listing.created", "listing.published", "listing.updated"]


BAD_LISTINGS = [
    # Wrong types and missing fields: refused while parsing (webargs).
    ({"price_fen": "abc"}, "price_fen"),
    ({"price_fen": 120.5}, "price_fen"),
    ({"title": None}, "title"),
    ({"pricing_unit": "per_year"}, "pricing_unit"),
    ({"availability": "mornings"}, "availability"),
    ({"community_ids": ["one"]}, "community_ids"),
    ({"availability": [{"weekday": "Mon", "start_minute": 540, "end_minute": 1020}]}, "availability"),
    ({"duration_minutes": True}, "duration_minutes"),
    ({"surprise": 1}, "surprise"),
    # Domain rules: refused by the service with the field at fault.
    ({"category_id": 999999}, "category_id"),
    ({"price_fen": -100}, "price_fen"),
    ({"price_fen": 10**9}, "price_fen"),
    ({"title": "   "}, "title"),
    ({"duration_minutes": 5}, "duration_minutes"),
    ({"community_ids": []}, "community_ids"),
    ({"availability": []}, "availability"),
    ({"availability": [{"weekday": 0, "start_minute": 540, "end_minute": 1020, "capacity": 0}]},
     "availability"),
]


@pytest.mark.parametrize("change, field", BAD_LISTINGS)
def test_creating_a_bad_listing_is_refused_and_changes_nothing(client, shop, change, field):
    provider, staff, _ = shop
    headers = bearer(staff)
    before = (count(Listing), count(ListingVersion), count(AuditEvent))
    assert_problem(client.post("/api/v1/my/listings", json=payload(provider, **change), headers=headers),
                   422, field)
    assert (count(Listing), count(ListingVersion), count(AuditEvent)) == before


def test_missing_fields_are_named(client, shop):
    _, staff, _ = shop
    body = assert_problem(client.post("/api/v1/my/listings", json={}, headers=bearer(staff)), 422)
    assert set(body["errors"]) == set(payload(shop[0]))
    assert body["errors"]["title"] == ["Missing data for required field."]
    assert_problem(client.post("/api/v1/my/listings", data="{not json", headers={
        **bearer(staff), "Content-Type": "application/json"}), 400)


@pytest.mark.parametrize("change, field", BAD_LISTINGS[::2])
def test_editing_with_bad_input_is_refused_and_changes_nothing(client, shop, change, field):
    provider, staff, listing = shop
    before = (listing.title, listing.version, listing.price_fen, count(ListingVersion))
    response = client.put(f"/api/v1/my/listings/{listing.id}", json=payload(provider, **change),
                          headers=bearer(staff))
    assert_problem(response, 422, field)
    db.session.expire_all()
    assert (listing.title, listing.version, listing.price_fen, count(ListingVersion)) == before


def test_bad_or_illegal_status_changes_are_refused(client, shop):
    _, staff, listing = shop
    headers = bearer(staff)
    url = f"/api/v1/my/listings/{listing.id}/status"
    assert_problem(client.post(url, json={"status": "deleted"}, headers=headers), 422, "status")
    assert_problem(client.post(url, json={}, headers=headers), 422, "status")
    assert client.post(url, json={"status": "archived"}, headers=headers).status_code == 200
    assert_problem(client.post(url, json={"status": "published"}, headers=headers), 409)
    edit = client.put(f"/api/v1/my/listings/{listing.id}", json=payload(shop[0]), headers=headers)
    assert_problem(edit, 409)
    db.session.expire_all()
    assert (listing.status, listing.version) == (ListingStatus.ARCHIVED, 1)


def test_a_pending_provider_cannot_create_listings(client):
    provider = factories.provider(status=ProviderStatus.PENDING)
    headers = bearer(factories.staff(provider))
    before = count(Listing)
    assert_problem(client.post("/api/v1/my/listings", json=payload(provider), headers=headers), 409)
    assert count(Listing) == before
    assert client.get("/api/v1/my/listings", headers=headers).get_json() == []


def test_another_providers_listing_is_a_404_and_stays_unchanged(client, shop):
    provider, _, listing = shop
    intruder = bearer(factories.staff(factories.provider()))
    base = f"/api/v1/my/listings/{listing.id}"
    assert_problem(client.get(base, headers=intruder), 404)
    assert_problem(client.get(f"{base}/versions", headers=intruder), 404)
    assert_problem(client.put(base, json=payload(provider, title="pwned"), headers=intruder), 404)
    assert_problem(client.post(f"{base}/status", json={"status": "archived"}, headers=intruder), 404)
    db.session.expire_all()
    assert (listing.title, listing.status, listing.version) == ("上门保洁 shopA", ListingStatus.PUBLISHED, 1)


PROTECTED = [
    ("get", "/api/v1/my/listings"),
    ("post", "/api/v1/my/listings"),
    ("get", "/api/v1/my/listings/1"),
    ("put", "/api/v1/my/listings/1"),
    ("post", "/api/v1/my/listings/1/status"),
    ("get", "/api/v1/my/listings/1/versions"),
    ("get", "/api/v1/official/providers"),
    ("get", "/api/v1/official/providers/1"),
    ("post", "/api/v1/official/providers/1/decision"),
    ("get", "/api/v1/me"),
]


@pytest.mark.parametrize("method, url", PROTECTED)
def test_anonymous_callers_get_401_with_www_authenticate(client, method, url):
    response = getattr(client, method)(url, json={})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_roles_get_403(client):
    for user in (factories.resident(), factories.official()):
        for method, url in PROTECTED[:6]:
            assert_problem(getattr(client, method)(url, json={}, headers=bearer(user)), 403)
    staff = bearer(factories.staff())
    for method, url in PROTECTED[6:9]:
        assert_problem(getattr(client, method)(url, json={"action": "approve"}, headers=staff), 403)


# --- Officials: vetting ------------------------------------------------------------


def test_officials_see_the_queue_and_a_provider(client):
    first = factories.provider(status=ProviderStatus.PENDING, name="新邻维修")
    factories.provider(status=ProviderStatus.ACTIVE)
    headers = bearer(factories.official())
    body = client.get("/api/v1/official/providers", headers=headers).get_json()
    assert body["status"] == "pending" and first.id in [p["id"] for p in body["items"]]
    assert body["counts"]["pending"] >= 1 and body["counts"]["active"] >= 1
    item = next(p for p in body["items"] if p["id"] == first.id)
    assert item["credit_code"] == first.credit_code and item["documents"] == []
    active = client.get("/api/v1/official/providers?status=active", headers=headers).get_json()
    assert first.id not in [p["id"] for p in active["items"]]
    assert_problem(client.get("/api/v1/official/providers?status=gone", headers=headers), 422, "status")
    one = client.get(f"/api/v1/official/providers/{first.id}", headers=headers).get_json()
    assert one["name"] == "新邻维修" and one["contact_phone"] == first.contact_phone
    assert_problem(client.get("/api/v1/official/providers/999999", headers=headers), 404)


def test_an_official_approves_and_suspends_with_audit(client):
    provider = factories.provider(status=ProviderStatus.PENDING)
    official = factories.admin()
    headers = bearer(official)
    url = f"/api/v1/official/providers/{provider.id}/decision"
    response = client.post(url, json={"action": "approve"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "active"
    response = client.post(url, json={"action": "suspend", "reason": "投诉过多"}, headers=headers)
    assert response.get_json()["status"] == "suspended"
    db.session.expire_all()
    assert provider.status == ProviderStatus.SUSPENDED and provider.status_reason == "投诉过多"
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "provider", AuditEvent.object_id == provider.id)).all()
    assert sorted(e.action for e in events) == ["provider.approve", "provider.suspend"]
    assert all(e.actor_id == official.id for e in events)


def test_bad_decisions_are_refused_and_change_nothing(client):
    provider = factories.provider(status=ProviderStatus.PENDING)
    headers = bearer(factories.official())
    url = f"/api/v1/official/providers/{provider.id}/decision"
    assert_problem(client.post(url, json={"action": "reject"}, headers=headers), 422, "reason")
    assert_problem(client.post(url, json={"action": "reject", "reason": "x" * 2001}, headers=headers),
                   422, "reason")
    assert_problem(client.post(url, json={"action": "ban", "reason": "x"}, headers=headers), 422, "action")
    assert_problem(client.post(url, json={"reason": "x"}, headers=headers), 422, "action")
    assert_problem(client.post(url, json={"action": "approve", "reason": 5}, headers=headers), 422, "reason")
    response = client.post(url, json={"action": "reinstate", "reason": "x"}, headers=headers)
    assert response.status_code in (409, 422) and response.mimetype == PROBLEM
    assert_problem(client.post("/api/v1/official/providers/999999/decision", json={"action": "approve"},
                               headers=headers), 404)
    db.session.expire_all()
    assert provider.status == ProviderStatus.PENDING and provider.status_reason is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "provider", AuditEvent.object_id == provider.id)) == 0


# --- Authentication and CSRF -------------------------------------------------------


def test_a_revoked_or_unknown_token_is_refused_even_with_a_session(client, auth, shop):
    _, staff, _ = shop
    token, raw = issue_token(db.session, staff, "laptop")
    db.session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=headers).get_json()["id"] == staff.id
    revoke_token(db.session, staff, token.id)
    db.session.commit()
    assert_problem(client.get("/api/v1/my/listings", headers=headers), 401)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": "Bearer linli_nonsense"}), 401)
    auth.login(staff)
    assert client.get("/api/v1/my/listings").status_code == 200  # the session alone
    assert_problem(client.get("/api/v1/my/listings", headers=headers), 401)  # the token decides


def test_session_writes_need_the_csrf_header_bearer_writes_do_not(app, client, csrf_enabled, shop):
    provider, staff, _ = shop
    login_page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"phone": staff.phone, "password": "correct horse 12",
                                           "csrf_token": csrf_token_from(login_page)})
    assert response.status_code == 302
    before = count(Listing)
    body = assert_problem(client.post("/api/v1/my/listings", json=payload(provider)), 400)
    assert "X-CSRFToken" in body["detail"]
    assert_problem(client.post("/api/v1/my/listings", json=payload(provider),
                               headers={"X-CSRFToken": "forged"}), 400)
    assert count(Listing) == before
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    response = client.post("/api/v1/my/listings", json=payload(provider), headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()
    assert client.get("/api/v1/my/listings").status_code == 200  # reads need no header
    other = factories.provider()
    fresh = app.test_client()  # no session: the token alone, no CSRF header
    assert_problem(fresh.post("/api/v1/my/listings", json=payload(other)), 401)  # nobody: 401, not 400
    response = fresh.post("/api/v1/my/listings", json=payload(other), headers=bearer(factories.staff(other)))
    assert response.status_code == 201, response.get_json()
    assert count(Listing) == before + 2


def test_problem_documents_for_unknown_api_routes_and_methods(client):
    assert_problem(client.get("/api/v1/nowhere"), 404)
    assert_problem(client.delete("/api/v1/catalogue"), 405)


def test_health_check(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] is True and body["uploads"]["ok"] is True
