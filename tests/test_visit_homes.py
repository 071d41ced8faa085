"""Issue 13, the home location: set once, with consent, by the resident (at the door
with this phone's location, or typed coordinates) or by an official, who alone may
correct it, with a reason (audited, before and after).  Pages submit what they render."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.audit import AuditEvent
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from providers.visits import home
from providers.visits.geo import Position
from providers.visits.models import HomeLocation, LocationMethod
from tests import factories
from tests.form_submit import rendered_form, submit

pytestmark = pytest.mark.usefixtures("english_messages")

CONSENT_NEEDED = "The resident must agree that Linli stores the home location."


def home_row(resident_id: int) -> HomeLocation | None:
    db.session.expire_all()
    return db.session.get(HomeLocation, resident_id)


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# --- the resident ---------------------------------------------------------------------------


def test_my_bookings_links_to_the_home_location_page(client, auth):
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/bookings").get_data(as_text=True)
    assert 'href="/my/home"' in page


def test_a_resident_sets_the_home_by_typing_coordinates_with_consent(client, auth):
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/my/home")
    assert page.status_code == 200
    # The page may ask the phone where it is ("use this phone's location"); others may not.
    assert "geolocation=(self)" in page.headers["Permissions-Policy"]
    assert "geolocation=()" in client.get("/bookings").headers["Permissions-Policy"]
    saved = submit(client, page.get_data(as_text=True), "/my/home", lat="31.2304", lon="121.4737", consent="y")
    assert saved.status_code == 302
    row = home_row(resident.id)
    assert (row.lat, row.lon, row.accuracy_m, row.method) == (31.2304, 121.4737, None, LocationMethod.ENTERED)
    assert row.set_by_id == resident.id and row.consent_at is not None
    [event] = events("home_location.set")
    assert event.object_id == resident.id and event.after["lat"] == 31.2304
    shown = client.get("/my/home").get_data(as_text=True)
    assert "31.230400, 121.473700" in shown and "ask the community office to correct it" in shown
    with pytest.raises(AssertionError):  # no form any more: set once
        rendered_form(shown, "/my/home")


def test_this_phones_location_is_stored_with_its_accuracy(client, auth):
    """What home_location.js fills in (method=device, the accuracy) is what is stored."""
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/my/home").get_data(as_text=True)
    form = rendered_form(page, "/my/home")
    assert form.find("button", attrs={"data-home-locate": True}) is not None
    assert form.find("input", attrs={"name": "method"})["value"] == "entered"
    saved = submit(client, page, "/my/home", lat="31.230512", lon="121.473811", accuracy="18", method="device",
                   consent="y")
    assert saved.status_code == 302
    row = home_row(resident.id)
    assert (row.method, row.accuracy_m) == (LocationMethod.DEVICE, 18.0)


def test_without_consent_nothing_is_stored_and_the_box_says_why(client, auth):
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/my/home").get_data(as_text=True)
    refused = submit(client, page, "/my/home", lat="31.2304", lon="121.4737")
    assert refused.status_code == 422
    assert CONSENT_NEEDED in refused.get_data(as_text=True)
    assert home_row(resident.id) is None and not events("home_location.set")


@pytest.mark.parametrize(("lat", "lon", "message"), [
    ("", "", "Give the home's location: use this phone's location or enter the coordinates."),
    ("91", "121.4", "The latitude must be between -90 and 90."),
    ("31.2", "", "The location needs both a latitude and a longitude."),
    ("31°12'", "121.4", "The location is not a number."),
])
def test_bad_coordinates_are_refused_beside_the_latitude(client, auth, lat, lon, message):
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/my/home").get_data(as_text=True)
    refused = submit(client, page, "/my/home", lat=lat, lon=lon, consent="y")
    assert refused.status_code == 422
    error = BeautifulSoup(refused.get_data(as_text=True), "html.parser").find(id="lat-error")
    assert error is not None and error.get_text() == message
    assert home_row(resident.id) is None


def test_the_resident_cannot_move_a_home_already_set(client, auth):
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/my/home").get_data(as_text=True)
    submit(client, page, "/my/home", lat="31.2304", lon="121.4737", consent="y")
    again = submit(client, page, "/my/home", lat="30.0", lon="120.0", consent="y")
    assert again.status_code == 409
    assert "already set" in again.get_data(as_text=True)
    assert (home_row(resident.id).lat, len(events("home_location.set"))) == (31.2304, 1)


# --- the official ---------------------------------------------------------------------------


def test_an_official_finds_a_resident_by_phone_and_sets_the_home(client, auth):
    resident, official = factories.resident(), factories.official()
    auth.login(official)
    unknown = client.get("/official/homes", query_string={"phone": "13900000000"})
    assert unknown.status_code == 200 and "No resident has this mobile number." in unknown.get_data(as_text=True)
    found = client.get("/official/homes", query_string={"phone": resident.phone}).get_data(as_text=True)
    assert resident.name in found and f"/official/residents/{resident.id}/home" in found
    page = client.get(f"/official/residents/{resident.id}/home").get_data(as_text=True)
    assert 'name="reason"' not in page  # the first setting needs no reason
    saved = submit(client, page, f"/official/residents/{resident.id}/home", lat="31.2304", lon="121.4737",
                   consent="y")
    assert saved.status_code == 302
    row = home_row(resident.id)
    assert row.set_by_id == official.id
    [event] = events("home_location.set")
    assert event.actor_id == official.id
    assert events("home_location.viewed") == []  # no home was there to see
    client.get(f"/official/residents/{resident.id}/home")
    [looked] = events("home_location.viewed")  # an official's look at a stored home is logged
    assert (looked.actor_id, looked.object_id) == (official.id, resident.id)


def test_an_official_corrects_the_home_only_with_a_reason_audited_before_and_after(client, auth):
    resident, official = factories.resident(), factories.official()
    home.set_home(db.session, resident, resident, Position(31.2304, 121.4737, 20.0), LocationMethod.DEVICE,
                  consent=True)
    db.session.commit()
    auth.login(official)
    url = f"/official/residents/{resident.id}/home"
    page = client.get(url).get_data(as_text=True)
    assert "Correct the home location" in page
    refused = submit(client, page, url, lat="31.2310", lon="121.4740", consent="y")
    assert refused.status_code == 422
    assert "Say why the home location is corrected" in refused.get_data(as_text=True)
    assert home_row(resident.id).lat == 31.2304
    corrected = submit(client, page, url, lat="31.2310", lon="121.4740", consent="y", reason="上门复核，原位置在邻楼")
    assert corrected.status_code == 302
    row = home_row(resident.id)
    assert (row.lat, row.lon, row.method, row.set_by_id) == (31.2310, 121.4740, LocationMethod.ENTERED, official.id)
    [event] = events("home_location.corrected")
    assert event.before["lat"] == 31.2304 and event.before["method"] == "device"
    assert event.after["lat"] == 31.2310 and event.reason == "上门复核，原位置在邻楼"


def test_who_may_set_a_home(english_messages):
    resident, other = factories.resident(), factories.resident()
    staff, official = factories.staff(), factories.official()
    spot = Position(31.2, 121.4)
    for actor in (other, staff):
        with pytest.raises(Forbidden):
            home.set_home(db.session, resident, actor, spot, LocationMethod.ENTERED, consent=True)
    with pytest.raises(NotFound):  # only residents have homes here
        home.set_home(db.session, staff, official, spot, LocationMethod.ENTERED, consent=True)
    with pytest.raises(Invalid) as no_consent:
        home.set_home(db.session, resident, official, spot, LocationMethod.ENTERED, consent=False)
    assert no_consent.value.field == "consent"
    home.set_home(db.session, resident, resident, spot, LocationMethod.ENTERED, consent=True)
    with pytest.raises(Conflict):
        home.set_home(db.session, resident, resident, spot, LocationMethod.ENTERED, consent=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HomeLocation)) == 1


def test_the_home_pages_are_for_their_people(client, auth):
    resident = factories.resident()
    auth.login(resident)
    assert client.get(f"/official/residents/{resident.id}/home").status_code == 403
    auth.logout()
    auth.login(factories.official())
    assert client.get("/official/residents/999999/home").status_code == 404
    assert client.get("/my/home").status_code == 403

