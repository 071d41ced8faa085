"""Bookings in the JSON API: slots, requests, every action, access rules, masking, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from providers.bookings.models import Booking, BookingEvent, BookingSlot, BookingStatus as S
from providers.models import ListingStatus
from tests import factories
from tests.carer_helpers import carer_for
from tests.conftest import csrf_token_from
from tests.helpers import assert_problem, bearer, count

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROBLEM = "application/problem+json"


def local(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def shop():
    """A provider with a staff member and a listing; a resident of its community."""
    provider = factories.provider()
    listing = factories.listing(provider, title="上门保洁 api")
    resident = factories.resident(listing.communities[0], phone="13812345678")
    return {"provider": provider, "listing": listing, "staff": factories.staff(provider), "resident": resident}


def book(client, shop, **changes):
    data = {"listing_id": shop["listing"].id, "starts_at": local(3, 9).isoformat(),
            "address": "城里社区3号楼2单元101", "note": "请带吸尘器"}
    data.update(changes)
    return client.post("/api/v1/bookings", json={k: v for k, v in data.items() if v is not None},
                       headers=bearer(shop["resident"]))


def act(client, user, booking, action, **body):
    if action == "accept" and user.is_provider_staff and hasattr(booking, "provider_id"):
        body.setdefault("carer_id", carer_for(booking))  # a free carer of the booking's provider
        db.session.commit()
    return client.post(f"/api/v1/bookings/{booking.id}/actions/{action}", json=body, headers=bearer(user))


# --- Slots -----------------------------------------------------------------------------------


def test_slots_are_public_with_places_left(client, shop):
    listing = shop["listing"]
    body = client.get(f"/api/v1/listings/{listing.id}/slots?days=2").get_json()
    assert body["listing_id"] == listing.id
    starts = [s["starts_at"] for s in body["slots"]]
    # Monday 10:00 now: 13:00 and 15:00 today, then Tuesday's four slots; times carry their offset.
    assert starts[0] == local(2, 13).astimezone(timezone.utc).isoformat() and len(starts) == 6
    assert body["slots"][0]["places_left"] == 2
    assert body["slots"][0]["ends_at"] == local(2, 15).astimezone(timezone.utc).isoformat()
    factories.booking(listing, starts_at=local(2, 13).astimezone(timezone.utc))
    again = client.get(f"/api/v1/listings/{listing.id}/slots?days=2").get_json()
    assert again["slots"][0]["places_left"] == 1


def test_slots_of_a_hidden_listing_or_a_bad_range(client, shop):
    draft = factories.listing(shop["provider"], status=ListingStatus.DRAFT)
    assert_problem(client.get(f"/api/v1/listings/{draft.id}/slots"), 404)
    assert_problem(client.get("/api/v1/listings/999999/slots"), 404)
    assert_problem(client.get(f"/api/v1/listings/{shop['listing'].id}/slots?days=0"), 422, "days")
    assert_problem(client.get(f"/api/v1/listings/{shop['listing'].id}/slots?days=61"), 422, "days")


# --- Requesting a booking ------------------------------------------------------------------------


def test_a_resident_books_a_slot(client, shop):
    response = book(client, shop)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    booking = db.session.get(Booking, body["id"])
    assert booking.status == S.REQUESTED and booking.resident_id == shop["resident"].id
    assert body["status"] == "requested" and body["listing"] == {"id": shop["listing"].id, "title": "上门保洁 api"}
    assert body["starts_at"] == local(3, 9).astimezone(timezone.utc).isoformat()
    assert body["contact"] == {"name": shop["resident"].name, "phone": "13812345678",
                               "address": "城里社区3号楼2单元101", "masked": False}
    assert body["actions"] == ["cancel"] and body["note"] == "请带吸尘器"


def test_the_last_place_taken_is_a_409_and_nothing_is_written(client, shop):
    starts = local(3, 9).astimezone(timezone.utc)
    factories.booking(shop["listing"], starts_at=starts)
    factories.booking(shop["listing"], starts_at=starts)
    before = count(Booking)
    client.set_cookie("linli_lang", "en")
    body = assert_problem(book(client, shop), 409, "starts_at")
    assert "just taken" in body["detail"]
    assert count(Booking) == before
    assert db.session.scalar(sa.select(BookingSlot.taken).where(BookingSlot.starts_at == starts)) == 2


@pytest.mark.parametrize("changes, status, field", [
    ({"starts_at": "2026-11-03T09:00:00"}, 422, "starts_at"),  # naive: no offset
    ({"starts_at": "tomorrow at nine"}, 422, "starts_at"),
    ({"starts_at": local(3, 9).replace(minute=30).isoformat()}, 422, "starts_at"),  # not a slot start
    ({"starts_at": local(3, 18).isoformat()}, 422, "starts_at"),  # outside the availability
    ({"starts_at": local(7, 9).isoformat()}, 422, "starts_at"),  # Saturday: no availability
    ({"starts_at": local(2, 9).isoformat()}, 422, "starts_at"),  # in the past
    ({"starts_at": local(2, 11).isoformat()}, 422, "starts_at"),  # within the hour: too soon
    ({"starts_at": (local(2, 9) + timedelta(days=91)).isoformat()}, 422, "starts_at"),  # beyond the horizon
    ({"address": None}, 422, "address"),
    ({"address": "   "}, 422, "address"),
    ({"address": "楼" * 201}, 422, "address"),
    ({"note": "长" * 1001}, 422, "note"),
    ({"listing_id": "1"}, 422, "listing_id"),
    ({"listing_id": 999999}, 404, None),
])
def test_bad_requests_are_refused_and_nothing_is_written(client, shop, changes, status, field):
    before = (count(Booking), count(BookingSlot), count(BookingEvent))
    assert_problem(book(client, shop, **changes), status, field)
    assert (count(Booking), count(BookingSlot), count(BookingEvent)) == before


def test_a_resident_of_another_community_cannot_book(client, shop):
    shop = {**shop, "resident": factories.resident()}
    assert_problem(book(client, shop), 422, "starts_at")
    assert count(Booking) == 0


def test_only_residents_book(client, shop):
    data = {"listing_id": shop["listing"].id, "starts_at": local(3, 9).isoformat(), "address": "x"}
    assert_problem(client.post("/api/v1/bookings", json=data), 401)
    assert_problem(client.post("/api/v1/bookings", json={"starts_at": "soon"}), 401)  # before validation
    for user in (shop["staff"], factories.official()):
        assert_problem(client.post("/api/v1/bookings", json=data, headers=bearer(user)), 403)
        assert_problem(client.post("/api/v1/bookings", json={}, headers=bearer(user)), 403)
    assert count(Booking) == 0


def test_a_session_write_needs_the_csrf_header(client, auth, shop, csrf_enabled):
    auth_page = client.get("/login")
    token = csrf_token_from(auth_page.get_data(as_text=True))
    client.post("/login", data={"phone": shop["resident"].phone, "password": "correct horse 12",
                                "csrf_token": token})
    data = {"listing_id": shop["listing"].id, "starts_at": local(3, 9).isoformat(), "address": "x"}
    assert_problem(client.post("/api/v1/bookings", json=data), 400)
    assert count(Booking) == 0
    page = client.get("/account")
    ok = client.post("/api/v1/bookings", json=data,
                     headers={"X-CSRFToken": csrf_token_from(page.get_data(as_text=True))})
    assert ok.status_code == 201


# --- Actions ------------------------------------------------------------------------------------


@pytest.fixture
def requested(shop):
    return factories.booking(shop["listing"], shop["resident"], starts_at=local(3, 9).astimezone(timezone.utc))


def test_the_whole_service_through_the_api(client, clock, shop, requested):
    staff, resident = shop["staff"], shop["resident"]
    body = act(client, staff, requested, "accept").get_json()
    # A day before the start: check-in opens an hour before it, the no-show once its grace is over.
    assert body["status"] == "accepted" and body["actions"] == ["cancel"]
    clock.set(requested.starts_at + timedelta(minutes=20))
    listed = client.get(f"/api/v1/bookings/{requested.id}", headers=bearer(staff)).get_json()["actions"]
    assert listed == ["check-in", "cancel"]  # the resident's absence waits for the check-in
    body = act(client, staff, requested, "check-in").get_json()
    assert body["status"] == "in_service" and body["late_start"] is True
    assert body["actions"] == ["complete"]
    clock.set(requested.ends_at)
    assert act(client, staff, requested, "complete").get_json()["status"] == "completed"
    body = act(client, resident, requested, "confirm").get_json()
    assert body["confirmed_at"] is not None and body["actions"] == []
    db.session.refresh(requested)
    assert requested.status == S.COMPLETED and requested.late_start
    events = db.session.scalars(sa.select(BookingEvent.to_status).where(BookingEvent.booking_id == requested.id))
    assert list(events) == [S.REQUESTED, S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.COMPLETED]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "booking", AuditEvent.object_id == requested.id)) >= 3


def test_decline_needs_a_reason(client, shop, requested):
    assert_problem(act(client, shop["staff"], requested, "decline"), 422, "reason")
    assert db.session.get(Booking, requested.id).status == S.REQUESTED
    body = act(client, shop["staff"], requested, "decline", reason="那天没有师傅").get_json()
    assert body["status"] == "declined" and body["status_reason"] == "那天没有师傅"


def test_cancellations_by_either_side(client, shop, requested):
    other = factories.booking(shop["listing"], starts_at=local(3, 11).astimezone(timezone.utc))
    assert act(client, shop["resident"], requested, "cancel").get_json()["status"] == "cancelled_by_resident"
    act(client, shop["staff"], other, "accept")
    assert_problem(act(client, shop["staff"], other, "cancel"), 422, "reason")
    body = act(client, shop["staff"], other, "cancel", reason="师傅生病").get_json()
    assert body["status"] == "cancelled_by_provider"


def test_provider_no_show_reported_then_confirmed(client, clock, shop, requested):
    act(client, shop["staff"], requested, "accept")
    assert_problem(act(client, shop["resident"], requested, "report-no-show"), 422)  # too early
    clock.set(requested.starts_at + timedelta(minutes=30))
    assert act(client, shop["resident"], requested, "report-no-show").get_json()["no_show_reported_at"]
    body = act(client, shop["staff"], requested, "confirm-no-show").get_json()
    assert body["status"] == "no_show_provider"


def test_an_official_confirms_a_no_show_with_a_reason(client, clock, shop, requested):
    official = factories.official()
    act(client, shop["staff"], requested, "accept")
    clock.set(requested.starts_at + timedelta(minutes=30))
    assert_problem(act(client, official, requested, "confirm-no-show"), 422, "reason")
    body = act(client, official, requested, "confirm-no-show", reason="电话核实").get_json()
    assert body["status"] == "no_show_provider" and body["contact"]["masked"] is True


def test_the_resident_was_not_there(client, clock, shop, requested):
    act(client, shop["staff"], requested, "accept")
    clock.set(requested.starts_at + timedelta(minutes=16))
    assert act(client, shop["staff"], requested, "resident-no-show").status_code == 409  # not checked in
    clock.set(requested.starts_at)
    act(client, shop["staff"], requested, "check-in")
    clock.set(requested.starts_at + timedelta(minutes=16))
    assert act(client, shop["staff"], requested, "resident-no-show").get_json()["status"] == "no_show_resident"


def test_an_action_without_a_body(client, clock, shop, requested):
    # Accepting names the carer: without a body it is refused, and nothing changes.
    response = client.post(f"/api/v1/bookings/{requested.id}/actions/accept", headers=bearer(shop["staff"]))
    assert_problem(response, 422)
    assert db.session.get(Booking, requested.id).status.value == "requested"
    act(client, shop["staff"], requested, "accept")
    clock.set(requested.starts_at)
    response = client.post(f"/api/v1/bookings/{requested.id}/actions/check-in", headers=bearer(shop["staff"]))
    assert response.status_code == 200 and response.get_json()["status"] == "in_service"


def test_illegal_transitions_are_409_and_change_nothing(client, shop, requested):
    body = assert_problem(act(client, shop["staff"], requested, "complete"), 409)
    assert body["title"] == "illegal-transition"
    assert_problem(act(client, shop["resident"], requested, "confirm"), 409)
    act(client, shop["staff"], requested, "accept")
    assert_problem(act(client, shop["staff"], requested, "accept"), 409)
    assert db.session.get(Booking, requested.id).status == S.ACCEPTED
    assert_problem(act(client, shop["staff"], requested, "check-in"), 422)  # a day early


def test_the_callers_role_decides_the_actions(client, shop, requested):
    assert_problem(act(client, shop["resident"], requested, "accept"), 403)
    assert_problem(act(client, factories.official(), requested, "accept"), 403)
    assert_problem(act(client, shop["staff"], requested, "confirm"), 403)
    assert_problem(act(client, shop["staff"], requested, "explode"), 404)
    assert_problem(act(client, factories.staff(factories.provider()), requested, "accept"), 404)
    assert_problem(act(client, factories.resident(shop["listing"].communities[0]), requested, "cancel"), 404)
    assert_problem(client.post(f"/api/v1/bookings/{requested.id}/actions/accept"), 401)
    assert_problem(act(client, shop["staff"], type("B", (), {"id": 999999})(), "accept"), 404)
    assert db.session.get(Booking, requested.id).status == S.REQUESTED


# --- Reading bookings ---------------------------------------------------------------------------


def test_residents_list_their_own_and_staff_their_providers(client, shop, requested):
    mine_too = factories.booking(shop["listing"], shop["resident"], starts_at=local(4, 9).astimezone(timezone.utc))
    factories.booking(shop["listing"], starts_at=local(5, 9).astimezone(timezone.utc))  # another resident
    factories.booking(factories.listing(), starts_at=local(5, 9).astimezone(timezone.utc))  # another provider
    body = client.get("/api/v1/bookings", headers=bearer(shop["resident"])).get_json()
    assert [b["id"] for b in body["items"]] == [mine_too.id, requested.id] and body["total"] == 2
    staff = bearer(shop["staff"])
    body = client.get("/api/v1/bookings", headers=staff).get_json()
    assert body["total"] == 3 and all(b["provider"]["id"] == shop["provider"].id for b in body["items"])
    act(client, shop["staff"], requested, "accept")
    accepted = client.get("/api/v1/bookings?status=accepted", headers=staff).get_json()
    assert [b["id"] for b in accepted["items"]] == [requested.id]
    paged = client.get("/api/v1/bookings?per_page=2&page=2", headers=staff).get_json()
    assert (len(paged["items"]), paged["pages"]) == (1, 2)
    assert_problem(client.get("/api/v1/bookings?status=lost", headers=staff), 422, "status")
    assert_problem(client.get("/api/v1/bookings?per_page=101", headers=staff), 422, "per_page")
    assert_problem(client.get("/api/v1/bookings", headers=bearer(factories.official())), 403)
    assert_problem(client.get("/api/v1/bookings"), 401)


def test_the_contact_is_masked_unless_the_provider_serves_the_booking(client, clock, shop, requested):
    staff = bearer(shop["staff"])
    url = f"/api/v1/bookings/{requested.id}"
    contact = client.get(url, headers=staff).get_json()["contact"]
    assert contact["phone"] == "138****5678" and contact["masked"] and "3号楼" not in contact["address"]
    act(client, shop["staff"], requested, "accept")
    assert client.get(url, headers=staff).get_json()["contact"] == {
        "name": shop["resident"].name, "phone": "13812345678", "address": "城里社区3号楼2单元101", "masked": False}
    clock.set(requested.starts_at)
    act(client, shop["staff"], requested, "check-in")
    clock.set(requested.ends_at)
    act(client, shop["staff"], requested, "complete")
    clock.advance(days=29)
    assert client.get(url, headers=staff).get_json()["contact"]["phone"] == "13812345678"
    clock.advance(days=2)
    assert client.get(url, headers=staff).get_json()["contact"]["phone"] == "138****5678"
    official = client.get(url, headers=bearer(factories.official())).get_json()
    assert official["contact"]["phone"] == "138****5678" and official["contact"]["masked"]
    own = client.get(url, headers=bearer(shop["resident"])).get_json()
    assert own["contact"]["phone"] == "13812345678" and own["actions"] == ["confirm"]


def test_someone_elses_booking_is_a_404(client, shop, requested):
    url = f"/api/v1/bookings/{requested.id}"
    assert_problem(client.get(url, headers=bearer(factories.resident(shop["listing"].communities[0]))), 404)
    assert_problem(client.get(url, headers=bearer(factories.staff(factories.provider()))), 404)
    assert_problem(client.get("/api/v1/bookings/999999", headers=bearer(factories.official())), 404)
    assert_problem(client.get(url), 401)


# --- The OpenAPI document --------------------------------------------------------------------------


def test_the_booking_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert paths["/api/v1/listings/{listing_id}/slots"]["get"]["security"] == []
    action = paths["/api/v1/bookings/{booking_id}/actions/{action}"]
    parameter = next(p for p in action["parameters"] if p["name"] == "action")
    assert parameter["schema"]["enum"] == ["accept", "decline", "check-in", "complete", "confirm-no-show",
                                           "resident-no-show", "cancel", "confirm", "report-no-show"]
    assert {"403", "404", "409", "422"} <= set(action["post"]["responses"])
    created = paths["/api/v1/bookings"]["post"]["responses"]
    assert {"201", "409", "422"} <= set(created)
    body = spec["components"]["schemas"]["BookingRequest"]
    assert set(body["required"]) == {"listing_id", "starts_at", "address"}
