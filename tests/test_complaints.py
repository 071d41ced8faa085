"""Complaints: only about bookings that took place, photos JPEG/PNG only, the provider's
one response within 48 hours, officials' decisions with a reason, the safety-first queue."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
import sqlalchemy as sa

from app.errors import Conflict, IllegalTransition, Invalid, NotFound
from app.extensions import db
from providers.bookings import services as bookings
from ratings import complaints
from ratings.models import Complaint, ComplaintPhoto, ComplaintStatus
from tests import factories
from tests.forms import open_page, submit
from tests.rating_helpers import JPEG, PDF, PNG, accepted_booking, audit_events, completed_booking, notifications
from tests.helpers import count


@pytest.fixture
def client(client):
    client.set_cookie("linli_lang", "en")
    return client


def stored_files(app) -> set[str]:
    folder = Path(app.config["UPLOAD_DIR"])
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def complain(client, booking, *, photos=(), raw: bool = False, **fields):
    """File with the complaint page's multipart form as rendered; ``raw`` posts a hand-made
    body instead (a booking whose page shows no form, someone else's, a tampered kind)."""
    data = {"kind": "late", "description": "师傅迟到了一个小时，也没有打电话。"}
    data.update(fields)
    if not raw:
        if photos:
            data["photos"] = list(photos)
        return submit(client, f"/bookings/{booking.id}/complain", fields=data)
    if photos:
        data["photos"] = [(io.BytesIO(body), name) for body, name in photos]
    return client.post(f"/bookings/{booking.id}/complain", data=data, content_type="multipart/form-data")


def file(session, booking, kind="late", text="迟到"):
    return complaints.file_complaint(session, booking.resident, booking.id, kind=kind, description=text)


# --- filing ---------------------------------------------------------------------------


def test_resident_files_a_complaint_with_photos(app, client, auth, clock):
    booking, staff = accepted_booking()
    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}/complain")
    assert page.status_code == 200 and "File the complaint" in page.get_data(as_text=True)

    response = complain(client, booking, photos=[(PNG, "门口.png"), (JPEG, "x.jpg")])
    assert response.status_code == 302
    complaint = db.session.scalar(sa.select(Complaint).where(Complaint.booking_id == booking.id))
    assert response.headers["Location"].endswith(f"/complaints/{complaint.id}")
    assert complaint.status == ComplaintStatus.OPEN and complaint.provider_id == booking.provider_id
    assert complaint.respond_by == clock.now() + timedelta(hours=48)
    assert sorted(p.content_type for p in complaint.photos) == ["image/jpeg", "image/png"]
    assert {p.stored_name for p in complaint.photos} <= stored_files(app)
    [note] = notifications("complaint.filed", staff.id)
    assert note.params["booking"] == booking.id

    html = client.get(f"/complaints/{complaint.id}").get_data(as_text=True)
    assert "师傅迟到了一个小时" in html and "No response yet." in html
    assert client.get("/complaints").status_code == 200


# A resident recorded as absent may complain: that is how they dispute it (test_booking_resident_no_show.py).
@pytest.mark.parametrize("how", ["requested", "declined", "expired", "cancelled_by_resident"])
def test_a_booking_that_never_happened_cannot_be_complained_about(client, auth, clock, how):
    booking = factories.booking()
    staff = factories.staff(booking.provider)
    if how == "declined":
        bookings.decline(db.session, booking, staff, "没空")
    elif how == "expired":
        clock.set(booking.respond_by + timedelta(minutes=1))
        bookings.expire_overdue_requests(db.session)
    elif how == "cancelled_by_resident":
        bookings.cancel_by_resident(db.session, booking, booking.resident)
    db.session.commit()
    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}/complain").get_data(as_text=True)
    assert "never took place" in page and "File the complaint" not in page
    response = complain(client, booking, raw=True)  # the page shows no form
    assert response.status_code == 409 and "never took place" in response.get_data(as_text=True)
    assert count(Complaint) == 0


@pytest.mark.parametrize("how", ["in_service", "completed", "cancelled_by_provider", "no_show_provider"])
def test_bookings_that_happened_or_should_have_can_be_complained_about(db_session, clock, how):
    booking, staff = accepted_booking()
    if how == "in_service":
        clock.set(booking.starts_at)
        bookings.check_in(db_session, booking, staff)
    elif how == "completed":
        booking, staff = completed_booking(clock)
    elif how == "cancelled_by_provider":
        bookings.cancel_by_provider(db_session, booking, staff, "师傅生病")
    else:
        clock.set(booking.starts_at + timedelta(minutes=30))
        bookings.report_provider_no_show(db_session, booking, booking.resident)
        bookings.confirm_provider_no_show(db_session, booking, staff)
    assert file(db_session, booking, "no_show").status == ComplaintStatus.OPEN


def test_someone_elses_booking_is_a_404(client, auth, clock):
    booking, _ = accepted_booking()
    auth.login(factories.resident(booking.community))
    assert client.get(f"/bookings/{booking.id}/complain").status_code == 404
    assert complain(client, booking, raw=True).status_code == 404
    assert count(Complaint) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": ""}, "Choose what the complaint is about."),
        ({"kind": "rude"}, "Choose what the complaint is about."),
        ({"description": "   "}, "Describe what happened."),
        ({"description": "长" * 2001}, "too long (2000 characters at most)"),
    ],
)
def test_bad_complaint_input_is_refused(client, auth, clock, fields, message):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    response = complain(client, booking, raw=fields.get("kind") == "rude", **fields)  # "rude": not offered
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(Complaint) == 0 and notifications("complaint.filed") == []


@pytest.mark.parametrize(
    ("photos", "message"),
    [
        ([(PDF, "证据.pdf")], "Photos must be JPEG or PNG images."),
        ([(PNG, "a.png"), (PDF, "b.png")], "Photos must be JPEG or PNG images."),  # named .png, is a PDF
        ([(b"GIF89a" + b"\x00" * 20, "a.gif")], "Photos must be JPEG or PNG images."),
        ([(PNG, f"{n}.png") for n in range(4)], "Attach at most 3 photos."),
    ],
)
def test_wrong_photos_are_refused_and_leave_nothing_behind(app, client, auth, clock, photos, message):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    before = stored_files(app)
    response = complain(client, booking, photos=photos)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(Complaint) == 0 and count(ComplaintPhoto) == 0
    assert stored_files(app) == before


def test_too_large_a_photo_is_refused(app, client, auth, clock):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    limit = app.config["DOCUMENT_MAX_BYTES"]
    app.config["DOCUMENT_MAX_BYTES"] = 100
    try:
        response = complain(client, booking, photos=[(PNG + b"\x00" * 200, "big.png")])
    finally:
        app.config["DOCUMENT_MAX_BYTES"] = limit
    assert response.status_code == 422 and "too large" in response.get_data(as_text=True)
    assert count(Complaint) == 0


def test_a_second_complaint_waits_for_the_first_decision(db_session, clock):
    booking, _ = accepted_booking()
    file(db_session, booking)
    with force_locale("en"), pytest.raises(Conflict, match="waiting for a decision"):
        file(db_session, booking, "misconduct")


def test_photos_are_served_only_to_the_people_of_the_complaint(client, auth, clock):
    booking, staff = accepted_booking()
    auth.login(booking.resident)
    complain(client, booking, photos=[(PNG, "门口.png")])
    complaint = db.session.scalar(sa.select(Complaint))
    photo = complaint.photos[0]
    url = f"/complaints/{complaint.id}/photos/{photo.id}"
    allowed = [booking.resident, staff, factories.official()]
    refused = [factories.resident(booking.community), factories.staff()]
    for user in allowed:
        auth.logout()
        auth.login(user)
        response = client.get(url)
        assert response.status_code == 200 and response.data == PNG and response.mimetype == "image/png"
        assert client.get(f"/complaints/{complaint.id}").status_code == 200
    for user in refused:
        auth.logout()
        auth.login(user)
        assert client.get(url).status_code == 404
        assert client.get(f"/complaints/{complaint.id}").status_code == 404
    auth.logout()
    assert client.get(url).status_code == 302  # to the log-in page


# --- the provider's response ----------------------------------------------------------


def test_provider_responds_once(client, auth, clock):
    booking, staff = accepted_booking()
    complaint = file(db.session, booking)
    db.session.commit()
    auth.login(staff)
    page = client.get("/provider/complaints").get_data(as_text=True)
    assert "Send the response" in page
    assert "Send the response" in client.get(f"/complaints/{complaint.id}").get_data(as_text=True)

    respond = f"/provider/complaints/{complaint.id}/respond"
    empty = submit(client, "/provider/complaints", action=respond, fields={"response": ""})
    assert empty.status_code == 422 and "Write your response." in empty.get_data(as_text=True)
    assert db.session.get(Complaint, complaint.id).status == ComplaintStatus.OPEN

    clock.advance(hours=3)
    opened = open_page(client, f"/complaints/{complaint.id}")
    ok = opened.submit(action=respond, fields={"response": "路上堵车，已致歉"})
    assert ok.status_code == 302
    stored = db.session.get(Complaint, complaint.id)
    assert stored.status == ComplaintStatus.RESPONDED and stored.response == "路上堵车，已致歉"
    assert stored.responded_at == clock.now() and stored.responded_by_id == staff.id
    [event] = audit_events("complaint.responded", complaint.id)
    assert event.actor_id == staff.id and event.after == {"status": "responded", "late": False}
    assert len(notifications("complaint.responded", booking.resident_id)) == 1

    again = opened.submit(action=respond, fields={"response": "补充"})  # the same page again
    assert again.status_code == 409
    assert db.session.get(Complaint, complaint.id).response == "路上堵车，已致歉"


def test_response_access_rules(client, auth, clock):
    booking, _ = accepted_booking()
    complaint = file(db.session, booking)
    db.session.commit()
    auth.login(factories.staff())
    # Access rules: no page shows these users the form, so the posts are hand-made.
    assert client.post(f"/provider/complaints/{complaint.id}/respond", data={"response": "x"}).status_code == 404
    auth.logout()
    auth.login(booking.resident)
    assert client.post(f"/provider/complaints/{complaint.id}/respond", data={"response": "x"}).status_code == 403
    assert client.get("/provider/complaints").status_code == 403
    assert db.session.get(Complaint, complaint.id).status == ComplaintStatus.OPEN


# --- officials ------------------------------------------------------------------------


def test_official_decides_with_a_reason_once(client, auth, clock):
    booking, staff = accepted_booking()
    complaint = file(db.session, booking)
    complaints.respond(db.session, staff, complaint.id, "已致歉")
    db.session.commit()
    official = factories.official()
    auth.login(official)
    page = client.get(f"/complaints/{complaint.id}").get_data(as_text=True)
    assert "已致歉" in page and "Uphold the complaint" in page and "Dismiss the complaint" in page

    # The page as the official sees it; the buttons carry the outcome.
    queue = open_page(client, f"/complaints/{complaint.id}")
    no_reason = queue.submit(button="Uphold the complaint", fields={"reason": ""})
    assert no_reason.status_code == 422 and "Give the reason for the decision" in no_reason.get_data(as_text=True)
    # The outcome comes from the button pressed; a body without one is tampered.
    no_outcome = client.post(f"/official/complaints/{complaint.id}/decide", data={"reason": "x"})
    assert no_outcome.status_code == 422
    assert db.session.get(Complaint, complaint.id).status == ComplaintStatus.RESPONDED
    assert audit_events("complaint.upheld") == []

    ok = queue.submit(button="Uphold the complaint", fields={"reason": "迟到属实"})
    assert ok.status_code == 302
    stored = db.session.get(Complaint, complaint.id)
    assert (stored.status, stored.decision_reason, stored.decided_by_id) == (
        ComplaintStatus.UPHELD, "迟到属实", official.id)
    [event] = audit_events("complaint.upheld", complaint.id)
    assert event.reason == "迟到属实" and event.before == {"status": "responded"}
    assert {n.user_id for n in notifications("complaint.decided")} == {booking.resident_id, staff.id}

    # The same page, still open in another tab: the second decision is refused.
    twice = queue.submit(button="Dismiss the complaint", fields={"reason": "改判"})
    assert twice.status_code == 409
    assert db.session.get(Complaint, complaint.id).status == ComplaintStatus.UPHELD
    # A complaint that does not exist has no page; the raw post checks the 404.
    assert client.post("/official/complaints/999999/decide", data={"outcome": "upheld", "reason": "x"}).status_code == 404


@pytest.mark.parametrize(("button", "status"), [("Uphold the complaint", ComplaintStatus.UPHELD), ("Dismiss the complaint", ComplaintStatus.DISMISSED)])
def test_each_decision_button_on_the_queue_decides(client, auth, clock, button, status):
    booking, _ = accepted_booking()
    complaint = file(db.session, booking)
    db.session.commit()
    auth.login(factories.official())
    response = submit(client, "/official/complaints", action=f"/official/complaints/{complaint.id}/decide",
                      button=button, fields={"reason": "核实过了"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.get(Complaint, complaint.id).status == status


def test_an_open_complaint_can_be_decided_and_then_not_responded_to(db_session, clock):
    booking, staff = accepted_booking()
    complaint = file(db_session, booking)
    complaints.decide(db_session, factories.official(), complaint.id, "dismissed", "无证据")
    assert complaint.status == ComplaintStatus.DISMISSED
    with pytest.raises(IllegalTransition):
        complaints.respond(db_session, staff, complaint.id, "晚了")
    with pytest.raises(Invalid):
        complaints.decide(db_session, factories.official(), complaint.id, "open", "x")
    with pytest.raises(NotFound):
        complaints.respond(db_session, factories.staff(), complaint.id, "x")


def test_the_queue_puts_safety_first_then_the_oldest_and_flags_overdue(client, auth, clock):
    late, _ = accepted_booking()
    quality, _ = accepted_booking()
    safety, _ = accepted_booking()
    decided, _ = accepted_booking()
    first = file(db.session, late, "late", "迟到")
    clock.advance(hours=1)
    second = file(db.session, quality, "poor_quality", "没擦干净")
    clock.advance(hours=1)
    third = file(db.session, safety, "safety", "燃气阀没关")
    closed = file(db.session, decided, "overcharge", "多收钱")
    complaints.decide(db.session, factories.official(), closed.id, "dismissed", "价格正确")
    db.session.commit()
    assert [c.id for c in complaints.queue(db.session)] == [third.id, first.id, second.id]

    clock.set(first.respond_by + timedelta(seconds=1))
    auth.login(factories.official())
    html = client.get("/official/complaints").get_data(as_text=True)
    assert html.index("燃气阀没关") < html.index("迟到") < html.index("没擦干净")
    assert "多收钱" not in html and html.count("Response overdue") == 1
    dismissed = client.get("/official/complaints?status=dismissed").get_data(as_text=True)
    assert "多收钱" in dismissed and "迟到" not in dismissed
    assert "多收钱" in client.get("/official/complaints?status=all").get_data(as_text=True)
    assert client.get("/official/complaints?status=nonsense").status_code == 404


def test_only_officials_see_the_queue_and_decide(client, auth, clock):
    booking, staff = accepted_booking()
    complaint = file(db.session, booking)
    db.session.commit()
    for user in (booking.resident, staff):
        auth.login(user)
        assert client.get("/official/complaints").status_code == 403
        # Access rule: no page shows them the form, so the post is hand-made.
        decide = client.post(f"/official/complaints/{complaint.id}/decide", data={"outcome": "upheld", "reason": "x"})
        assert decide.status_code == 403
        auth.logout()
    assert db.session.get(Complaint, complaint.id).status == ComplaintStatus.OPEN


def test_the_response_deadline_follows_the_configuration(app, db_session, clock):
    app.config["COMPLAINT_RESPONSE_HOURS"] = 24
    try:
        booking, _ = accepted_booking()
        complaint = file(db_session, booking)
    finally:
        app.config["COMPLAINT_RESPONSE_HOURS"] = 48
    assert complaint.respond_by == clock.now() + timedelta(hours=24)
    assert not complaints.is_overdue(complaint)
    assert complaints.is_overdue(complaint, complaint.respond_by + timedelta(seconds=1))
