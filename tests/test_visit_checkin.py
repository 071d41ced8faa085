"""Check-in and check-out record the visit's facts (issue 13, "The visit record").

Pages are driven through the forms they render; the location's hidden inputs are the
ones visit_location.js fills from the phone's Geolocation API (a test fills them as it
would).  The clock starts Monday 2 November 2026, 10:00 in Shanghai; factory bookings
start the next weekday at 9:00 and last two hours.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.errors import IllegalTransition, Invalid
from app.extensions import db
from providers.bookings import services as bookings
from providers.bookings.models import BookingStatus as S
from providers.visits import device
from providers.visits.models import VerifiedBy, VisitRecord
from providers.visits.services import VisitFacts
from tests import visit_helpers as v
from tests.forms import open_page, page_of


def name(booking, field: str) -> str:
    return f"visit{booking.id}-{field}"


def location(booking, lat_lon, accuracy=12):
    return {name(booking, "lat"): str(lat_lon[0]), name(booking, "lon"): str(lat_lon[1]),
            name(booking, "accuracy"): str(accuracy)}


def record(booking) -> VisitRecord | None:
    db.session.expire_all()
    return db.session.get(VisitRecord, booking.id)


def test_the_carer_checks_in_from_today_s_page_with_the_phone_s_location(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at - timedelta(minutes=10))
    auth.login(staff)
    page = open_page(client, "/provider/today")
    assert listing.title in page.html and booking.address in page.html
    assert f"Carer: {booking.carer.name}" in " ".join(page.html.split())  # who is to go
    assert device.COOKIE in page.response.headers.get("Set-Cookie", "")
    response = page.submit(button="Check in: I have arrived", fields=location(booking, v.NEAR))
    assert response.status_code == 302
    found = record(booking)
    assert booking.status == S.IN_SERVICE and found.checked_in_by_id == staff.id
    assert (found.check_in_lat, found.check_in_lon, found.check_in_accuracy_m) == (*v.NEAR, 12)
    assert 90 <= found.check_in_distance_m <= 105
    assert len(found.check_in_device) == 64 and found.code.isdigit() and len(found.code) == 6
    # The device is known by its cookie's digest only: the same phone gives the same digest.
    page = open_page(client, "/provider/today")
    assert "Check out: the visit is done" in page.buttons()


@pytest.mark.parametrize("lat, lon, message", [
    ("abc", "121.47", "The location is not a number."),
    ("31.23", "", "The location needs both a latitude and a longitude."),
    ("91", "121.47", "The latitude must be between -90 and 90."),
    ("31.23", "181", "The longitude must be between -180 and 180."),
    ("NaN", "121.47", "The location is not a number."),
    ("31.23,121.47", "121.47", "The location is not a number."),
])
def test_a_forged_or_malformed_location_is_refused_and_nothing_is_written(client, auth, en, clock, lat, lon,
                                                                          message):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at)
    auth.login(staff)
    page = open_page(client, "/provider/today")
    response = page.submit(button="Check in: I have arrived",
                           fields={name(booking, "lat"): lat, name(booking, "lon"): lon})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert record(booking) is None and booking.status == S.ACCEPTED


def test_a_check_in_without_a_location_is_allowed_and_has_no_distance(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at)
    auth.login(staff)
    assert open_page(client, "/provider/today").submit(button="Check in: I have arrived").status_code == 302
    found = record(booking)
    assert (found.check_in_lat, found.check_in_distance_m) == (None, None) and found.code


def test_no_home_location_means_no_distance(clock):
    listing, staff, resident = v.setting(home=False)
    booking = v.in_service(listing, staff, resident, clock, VisitFacts(lat="31.2", lon="121.4"))
    found = record(booking)
    assert found.check_in_lat == 31.2 and found.check_in_distance_m is None


def test_check_in_earlier_than_the_window_is_refused(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at - timedelta(hours=2))
    auth.login(staff)
    page = open_page(client, "/provider/today")
    assert "You can check in from" in page.html
    response = page.submit(button="Check in: I have arrived", fields=location(booking, v.HOME))
    assert response.status_code in (409, 422)
    assert "at most one hour before the start" in response.get_data(as_text=True)
    assert record(booking) is None


def test_an_early_check_out_needs_a_reason(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    clock.set(booking.starts_at + timedelta(minutes=30))  # 30 of 120 minutes: below half
    auth.login(staff)
    page = open_page(client, "/provider/today")
    response = page.submit(button="Check out: the visit is done", fields=location(booking, v.HOME))
    assert response.status_code == 422
    assert "say why you are leaving early" in response.get_data(as_text=True)
    assert booking.status == S.IN_SERVICE and record(booking).checked_out_by_id is None
    again = page_of(client, "/provider/today", response).submit(
        button="Check out: the visit is done",
        fields={**location(booking, v.HOME), name(booking, "short_reason"): "老人身体不适，需要休息"})
    assert again.status_code == 302
    found = record(booking)
    assert found.short_reason == "老人身体不适，需要休息" and booking.status == S.COMPLETED


def test_check_out_records_the_ticked_tasks_from_the_listing_s_checklist(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    auth.login(staff)
    page = open_page(client, "/provider/today")
    response = page.submit(button="Check out: the visit is done",
                           fields={**location(booking, v.FAR), name(booking, "tasks"): ["陪同聊天", "打扫卫生"]})
    assert response.status_code == 302
    found = record(booking)
    assert found.tasks_done == ["打扫卫生", "陪同聊天"]  # in the checklist's order
    assert found.check_out_distance_m > 4000 and found.verified_at is None


def test_a_task_not_on_the_checklist_is_refused(clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    with pytest.raises(Invalid) as refused:
        bookings.complete(db.session, booking, staff, VisitFacts(tasks=("修理水管",)))
    assert refused.value.field == "tasks"


def test_the_booking_page_s_buttons_post_the_same_visit_forms(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at)
    auth.login(staff)
    url = f"/provider/bookings/{booking.id}"
    page = open_page(client, url)
    form = page.form(button="Check in: we have arrived")
    assert form.action.endswith(f"/provider/visits/{booking.id}/check-in")
    response = form.submit(location(booking, v.HOME), button="Check in: we have arrived")
    assert response.status_code == 302 and response.location.endswith(url)
    assert record(booking).check_in_distance_m == 0
    v.at_the_end(clock, booking)
    response = open_page(client, url).submit(button="Mark as done", fields={name(booking, "lat"): "north"})
    assert response.status_code == 422
    assert "The location needs both a latitude and a longitude." in response.get_data(as_text=True)
    assert "Booking #" in response.get_data(as_text=True)  # the booking page again, not today's


def test_the_resident_sees_the_code_while_in_service_then_the_record(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock, VisitFacts(lat=str(v.NEAR[0]), lon=str(v.NEAR[1])))
    code = record(booking).code
    auth.login(resident)
    page = open_page(client, f"/bookings/{booking.id}").html
    assert code in page and "Give this code to the carer when the visit ends." in page
    assert str(v.NEAR[0]) not in page
    v.at_the_end(clock, booking)
    bookings.complete(db.session, booking, staff, VisitFacts(code=code, tasks=("测量血压",)))
    db.session.commit()
    page = open_page(client, f"/bookings/{booking.id}").html
    assert code not in page and "测量血压" in page and "at the home" in page and "visit code" in page
    assert str(v.NEAR[0]) not in page and str(v.NEAR[1]) not in page


def test_the_resident_s_confirmation_verifies_the_visit(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    bookings.complete(db.session, booking, staff, VisitFacts())
    db.session.commit()
    assert record(booking).verified_at is None
    auth.login(resident)
    response = open_page(client, f"/bookings/{booking.id}").submit(button="Confirm the service was done")
    assert response.status_code == 302
    found = record(booking)
    assert (found.verified_by, found.verified_actor_id) == (VerifiedBy.RESIDENT, resident.id)


def test_the_72_hour_auto_confirm_confirms_the_booking_but_never_verifies_the_visit(clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    bookings.complete(db.session, booking, staff, VisitFacts())
    db.session.commit()
    clock.advance(hours=73)
    assert bookings.auto_confirm_completed(db.session) == 1
    db.session.commit()
    db.session.expire_all()
    assert booking.confirmed_at is not None and booking.auto_confirmed
    assert record(booking).verified_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitRecord)
                             .where(VisitRecord.verified_at.is_not(None))) == 0
    # The resident may still confirm it herself, and that verifies the visit; once only.
    clock.advance(days=2)
    bookings.confirm_completion(db.session, booking, resident)
    db.session.commit()
    db.session.expire_all()
    assert not booking.auto_confirmed and record(booking).verified_by == VerifiedBy.RESIDENT
    with pytest.raises(IllegalTransition):
        bookings.confirm_completion(db.session, booking, resident)


def test_the_provider_defines_the_checklist_on_the_listing_form(client, auth, en, clock):
    listing, staff, _resident = v.setting()
    auth.login(staff)
    url = f"/provider/listings/{listing.id}/edit"
    page = open_page(client, url)
    assert "打扫卫生\n测量血压\n陪同聊天" in page.html
    response = page.submit(button="Save changes", fields={"checklist": "助浴\n\n 助浴 \n理发"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert listing.checklist == ["助浴", "理发"]
    too_many = "\n".join(f"任务{n}" for n in range(13))
    response = open_page(client, url).submit(button="Save changes", fields={"checklist": too_many})
    assert response.status_code == 422 and "at most 12 tasks" in response.get_data(as_text=True)
    db.session.expire_all()
    assert listing.checklist == ["助浴", "理发"]


def test_only_pages_with_a_visit_form_may_ask_the_phone_where_it_is(client, auth, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    auth.login(staff)
    assert "geolocation=(self)" in client.get("/provider/today").headers["Permissions-Policy"]
    assert "geolocation=()" in client.get("/provider/bookings").headers["Permissions-Policy"]
    clock.set(booking.starts_at)
    assert "geolocation=(self)" in client.get(f"/provider/bookings/{booking.id}").headers["Permissions-Policy"]


def test_a_device_is_known_by_its_cookie_s_digest_and_a_forged_cookie_is_replaced(app, client, auth, clock):
    listing, staff, resident = v.setting()
    first = v.accepted(listing, staff, resident, clock)
    second = v.accepted(listing, staff, resident, clock, starts_at=first.starts_at + timedelta(hours=2))
    clock.set(first.starts_at)
    auth.login(staff)
    page = open_page(client, "/provider/today")
    cookie = client.get_cookie(device.COOKIE)
    assert cookie is not None and cookie.http_only and cookie.max_age == device.MAX_AGE
    assert page.submit(action=f"/provider/visits/{first.id}/check-in").status_code == 302
    clock.set(second.starts_at)
    assert open_page(client, "/provider/today").submit(
        action=f"/provider/visits/{second.id}/check-in").status_code == 302
    one, two = record(first).check_in_device, record(second).check_in_device
    assert one == two and cookie.value not in one  # the same phone; only a digest is stored
    # An edited cookie is not trusted: the phone gets a new identity.
    client.set_cookie(device.COOKIE, cookie.value[:-2] + "xx")
    with app.test_request_context(headers={"Cookie": f"{device.COOKIE}={cookie.value[:-2]}xx"}):
        assert device.current_digest() != one
