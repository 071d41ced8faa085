"""The ratings and complaints API: the same rules as the pages, as problem documents."""

from __future__ import annotations

import pytest

from app.audit import AuditEvent
from app.extensions import db
from providers.models import Listing, ListingStatus
from ratings import complaints, services
from ratings.models import Complaint, ComplaintStatus, Rating
from tests import factories
from tests.rating_helpers import accepted_booking, audit_events, completed_booking, notifications
from tests.helpers import assert_problem, bearer, count

SCORES = {"overall": 5, "timeliness": 4, "quality": 5, "attitude": 4}


@pytest.fixture
def client(client):
    client.set_cookie("linli_lang", "en")
    return client


# --- ratings --------------------------------------------------------------------------


def test_rate_a_completed_booking(client, clock):
    booking, staff = completed_booking(clock)
    response = client.post(f"/api/v1/bookings/{booking.id}/rating", json={**SCORES, "comment": "好"},
                           headers=bearer(booking.resident))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["overall"] == 5 and body["booking_id"] == booking.id and body["hidden"] is False
    assert db.session.get(Listing, booking.listing_id).rating_count == 1
    assert len(notifications("rating.received", staff.id)) == 1

    twice = client.post(f"/api/v1/bookings/{booking.id}/rating", json=SCORES, headers=bearer(booking.resident))
    assert "already rated" in assert_problem(twice, 409)["detail"]
    assert count(Rating) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("overall", 6, "must be from 1 to 5 stars (you gave 6)"),
        ("timeliness", 0, "must be from 1 to 5 stars (you gave 0)"),
        ("quality", "abc", "must be a whole number of stars from 1 to 5"),
        ("attitude", 4.5, "must be a whole number of stars from 1 to 5"),
    ],
)
def test_bad_scores_get_a_specific_422(client, clock, field, value, message):
    booking, _ = completed_booking(clock)
    response = client.post(f"/api/v1/bookings/{booking.id}/rating", json={**SCORES, field: value},
                           headers=bearer(booking.resident))
    body = assert_problem(response, 422, field)
    assert message in body["errors"][field][0]
    assert count(Rating) == 0 and db.session.get(Listing, booking.listing_id).rating_count == 0


def test_missing_overall_score_and_long_comment(client, clock):
    booking, _ = completed_booking(clock)
    headers = bearer(booking.resident)
    # The overall score is required; the detailed ones are optional.
    assert_problem(client.post(f"/api/v1/bookings/{booking.id}/rating", json={"timeliness": 5}, headers=headers),
                   422, "overall")
    assert_problem(client.post(f"/api/v1/bookings/{booking.id}/rating", json={**SCORES, "comment": "x" * 1001},
                               headers=headers), 422, "comment")
    assert count(Rating) == 0


def test_who_may_rate_which_booking(client, clock):
    booking, staff = completed_booking(clock)
    other, _ = accepted_booking()
    url = f"/api/v1/bookings/{booking.id}/rating"
    assert_problem(client.post(url, json=SCORES), 401)
    assert_problem(client.post(url, json={}, headers=bearer(staff)), 403)  # role before validation
    assert_problem(client.post(url, json=SCORES, headers=bearer(factories.resident())), 404)
    not_done = client.post(f"/api/v1/bookings/{other.id}/rating", json=SCORES, headers=bearer(other.resident))
    assert "Only a completed booking" in assert_problem(not_done, 409)["detail"]
    clock.advance(days=14, seconds=1)
    late = client.post(url, json=SCORES, headers=bearer(booking.resident))
    assert "14 days" in assert_problem(late, 409)["detail"]
    assert count(Rating) == 0


def test_reply_once(client, clock):
    booking, staff = completed_booking(clock)
    rating = services.rate_booking(db.session, booking.resident, booking.id, **SCORES)
    db.session.commit()
    url = f"/api/v1/ratings/{rating.id}/reply"
    assert_problem(client.post(url, json={"reply": "x"}, headers=bearer(factories.staff())), 404)
    assert_problem(client.post(url, json={"reply": "x"}, headers=bearer(booking.resident)), 403)
    assert_problem(client.post(url, json={"reply": " "}, headers=bearer(staff)), 422, "reply")
    ok = client.post(url, json={"reply": "谢谢"}, headers=bearer(staff))
    assert ok.status_code == 200 and ok.get_json()["reply"] == "谢谢"
    assert_problem(client.post(url, json={"reply": "再谢"}, headers=bearer(staff)), 409)
    assert len(audit_events("rating.replied", rating.id)) == 1


def test_listing_ratings_are_public_and_leave_hidden_ones_out(client, clock):
    first, staff = completed_booking(clock)
    second, _ = completed_booking(clock, first.listing, None, staff)
    shown = services.rate_booking(db.session, first.resident, first.id, **SCORES, comment="很好")
    hidden = services.rate_booking(db.session, second.resident, second.id,
                                   **{**SCORES, "overall": 1}, comment="骂人")
    services.hide_rating(db.session, factories.official(), hidden.id, "辱骂")
    db.session.commit()

    response = client.get(f"/api/v1/listings/{first.listing_id}/ratings")
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == [shown.id]
    assert body["rating_count"] == 1 and body["total"] == 1 and body["rating_mean"] == round(25 / 6, 2)
    assert not {"resident_id", "booking_id", "hidden_reason", "hidden"} & set(body["items"][0])

    past_the_end = client.get(f"/api/v1/listings/{first.listing_id}/ratings?page=5").get_json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 1 and past_the_end["pages"] == 1
    assert_problem(client.get(f"/api/v1/listings/{first.listing_id}/ratings?per_page=0"), 422, "per_page")
    draft = factories.listing(status=ListingStatus.DRAFT)
    assert_problem(client.get(f"/api/v1/listings/{draft.id}/ratings"), 404)


# --- complaints -----------------------------------------------------------------------


def test_file_respond_and_decide(client, clock):
    booking, staff = accepted_booking()
    official = factories.official()
    filed = client.post(f"/api/v1/bookings/{booking.id}/complaints",
                        json={"kind": "late", "description": "迟到一小时"}, headers=bearer(booking.resident))
    assert filed.status_code == 201, filed.get_json()
    body = filed.get_json()
    assert body["status"] == "open" and body["kind"] == "late" and body["overdue"] is False
    complaint_id = body["id"]
    assert len(notifications("complaint.filed", staff.id)) == 1

    url = f"/api/v1/complaints/{complaint_id}"
    assert client.get(url, headers=bearer(booking.resident)).status_code == 200
    assert client.get(url, headers=bearer(staff)).status_code == 200
    assert_problem(client.get(url, headers=bearer(factories.resident())), 404)

    assert_problem(client.post(f"{url}/response", json={"response": ""}, headers=bearer(staff)), 422, "response")
    responded = client.post(f"{url}/response", json={"response": "已致歉"}, headers=bearer(staff))
    assert responded.status_code == 200 and responded.get_json()["status"] == "responded"
    assert_problem(client.post(f"{url}/response", json={"response": "再说"}, headers=bearer(staff)), 409)

    no_reason = client.post(f"{url}/decision", json={"outcome": "upheld"}, headers=bearer(official))
    assert_problem(no_reason, 422, "reason")
    assert_problem(client.post(f"{url}/decision", json={"outcome": "maybe", "reason": "x"},
                               headers=bearer(official)), 422, "outcome")
    assert_problem(client.post(f"{url}/decision", json={"outcome": "upheld", "reason": "x"},
                               headers=bearer(staff)), 403)
    decided = client.post(f"{url}/decision", json={"outcome": "upheld", "reason": "属实"}, headers=bearer(official))
    assert decided.status_code == 200 and decided.get_json()["status"] == "upheld"
    twice = client.post(f"{url}/decision", json={"outcome": "dismissed", "reason": "改判"}, headers=bearer(official))
    assert_problem(twice, 409)
    assert db.session.get(Complaint, complaint_id).status == ComplaintStatus.UPHELD
    assert db.session.query(AuditEvent).filter_by(object_type="complaint", object_id=complaint_id).count() == 2


def test_complaint_refusals(client, clock):
    requested = factories.booking()
    accepted, _ = accepted_booking()
    url = f"/api/v1/bookings/{requested.id}/complaints"
    never = client.post(url, json={"kind": "late", "description": "x"}, headers=bearer(requested.resident))
    assert "never took place" in assert_problem(never, 409)["detail"]
    good_url = f"/api/v1/bookings/{accepted.id}/complaints"
    assert_problem(client.post(good_url, json={"kind": "rude", "description": "x"},
                               headers=bearer(accepted.resident)), 422, "kind")
    assert_problem(client.post(good_url, json={"kind": "late", "description": "  "},
                               headers=bearer(accepted.resident)), 422, "description")
    assert_problem(client.post(good_url, json={"kind": "late"}, headers=bearer(accepted.resident)), 422,
                   "description")
    assert_problem(client.post(good_url, json={"kind": "late", "description": "x"},
                               headers=bearer(factories.resident())), 404)
    assert_problem(client.post(good_url, json={"kind": "late", "description": "x"}), 401)
    assert count(Complaint) == 0


def test_the_official_queue(client, clock):
    a, _ = accepted_booking()
    b, _ = accepted_booking()
    late = complaints.file_complaint(db.session, a.resident, a.id, kind="late", description="迟到")
    clock.advance(minutes=5)
    safety = complaints.file_complaint(db.session, b.resident, b.id, kind="safety", description="漏电")
    db.session.commit()
    clock.advance(hours=49)
    response = client.get("/api/v1/official/complaints", headers=bearer(factories.official()))
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == [safety.id, late.id]
    assert all(item["overdue"] for item in body["items"]) and body["counts"]["open"] == 2
    assert_problem(client.get("/api/v1/official/complaints?status=bogus", headers=bearer(factories.official())),
                   422, "status")
    assert_problem(client.get("/api/v1/official/complaints", headers=bearer(a.resident)), 403)
    assert_problem(client.get("/api/v1/official/complaints"), 401)


def test_session_writes_need_the_csrf_header(client, auth, clock, csrf_enabled):
    booking, _ = completed_booking(clock)
    from tests.conftest import csrf_token_from

    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"phone": booking.resident.phone, "password": "correct horse 12",
                                "csrf_token": token})
    assert_problem(client.post(f"/api/v1/bookings/{booking.id}/rating", json=SCORES), 400)
    assert count(Rating) == 0
