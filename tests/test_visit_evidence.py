"""Issue 13, the official's visit evidence page: the booking, its visit record, flags and
photos; raw coordinates only after a "show the locations" request with a reason, which
is logged (PIPL); "clear for payment" for an unverified visit, with a reason (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.audit import AuditEvent
from app.extensions import db
from providers.visits import home, verification
from providers.visits.flags import raise_flag
from providers.visits.geo import Position
from providers.visits.jobs import drop_old_coordinates
from providers.visits.models import FlagRule, LocationMethod, PhotoStage, VerifiedBy, VisitPhoto, VisitRecord
from tests import factories
from tests.form_submit import submit
from tests.visit_office_helpers import DEVICE, DOOR, HOME, served_visit

pytestmark = pytest.mark.usefixtures("english_messages")

SHA = "ab" * 32


def text(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ", strip=True)


def record(booking_id: int) -> VisitRecord:
    db.session.expire_all()
    return db.session.get(VisitRecord, booking_id)


def viewed_events() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "visit.evidence_viewed")))


@pytest.fixture
def visit(clock):
    booking, staff = served_visit(clock, short_reason="老人要去医院", code_attempts=2)
    home.set_home(db.session, booking.resident, booking.resident, Position(*HOME, 15.0), LocationMethod.DEVICE,
                  consent=True)
    raise_flag(db.session, booking, FlagRule.NO_CODE, {"code_entered": False})
    db.session.add(VisitPhoto(booking_id=booking.id, stage=PhotoStage.BEFORE, stored_name="p1.jpg",
                              content_type="image/jpeg", size_bytes=2048, sha256=SHA, uploaded_by_id=staff.id))
    db.session.commit()
    return booking


def test_the_page_shows_the_facts_without_raw_coordinates(client, auth, visit):
    auth.login(factories.official())
    booking_page = client.get(f"/official/bookings/{visit.id}").get_data(as_text=True)
    assert f'href="/official/visits/{visit.id}"' in booking_page
    page = client.get(f"/official/visits/{visit.id}")
    assert page.status_code == 200
    shown = text(page)
    assert visit.listing.title in shown and visit.provider.name in shown and visit.resident.name in shown
    assert "14 m (accuracy about 12 m)" in shown and "14 m (accuracy about 9 m)" in shown
    assert DEVICE[:10] + "…" in shown and DEVICE not in shown
    assert "打扫卫生、陪同聊天" in shown and "老人要去医院" in shown
    assert "wrong attempts: 2" in shown and "not verified" in shown
    assert "Closed without the resident's code" in shown
    assert "Closed without the resident's visit code or a card code." in shown  # the evidence, in words
    assert "before" in shown and SHA[:16] in shown
    html = page.get_data(as_text=True)
    for raw in (f"{DOOR[0]:.6f}", f"{HOME[0]:.6f}", f"{DOOR[1]:.6f}"):
        assert raw not in html


def test_showing_the_locations_needs_a_reason_and_is_logged(client, auth, visit):
    official = factories.official()
    auth.login(official)
    url = f"/official/visits/{visit.id}"
    page = client.get(url).get_data(as_text=True)
    refused = submit(client, page, f"{url}/locations")
    assert refused.status_code == 422
    assert "Give a reason: it is recorded." in text(refused) and not viewed_events()
    shown = submit(client, page, f"{url}/locations", **{"reveal-reason": "核查投诉：护理员是否到场"})
    assert shown.status_code == 200
    soup = BeautifulSoup(shown.get_data(as_text=True), "html.parser")
    locations = soup.select_one(".raw-locations").get_text(" ", strip=True)
    assert f"{DOOR[0]:.6f}, {DOOR[1]:.6f}" in locations and f"{HOME[0]:.6f}, {HOME[1]:.6f}" in locations
    [event] = viewed_events()
    assert (event.actor_id, event.object_type, event.object_id) == (official.id, "booking", visit.id)
    assert event.reason == "核查投诉：护理员是否到场"
    # The next look at the page shows who looked, not the coordinates.
    again = client.get(url).get_data(as_text=True)
    assert f"{DOOR[0]:.6f}" not in again and "核查投诉：护理员是否到场" in again


def test_an_unverified_visit_is_cleared_for_payment_with_a_reason(client, auth, visit):
    official = factories.official()
    paid = []
    receiver = lambda session, **kw: paid.append(kw["method"])  # noqa: E731
    verification.visit_verified.connect(receiver)
    try:
        auth.login(official)
        url = f"/official/visits/{visit.id}"
        page = client.get(url).get_data(as_text=True)
        refused = submit(client, page, f"{url}/clear")
        assert refused.status_code == 422 and record(visit.id).cleared_at is None
        cleared = submit(client, page, f"{url}/clear", **{"clear-reason": "电话回访老人确认已服务"})
        assert cleared.status_code == 302
    finally:
        verification.visit_verified.disconnect(receiver)
    row = record(visit.id)
    assert row.cleared_by_id == official.id and row.clear_reason == "电话回访老人确认已服务"
    assert paid == [None]
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "visit.cleared"))
    assert event.object_id == visit.id
    after = client.get(url)
    assert "电话回访老人确认已服务" in text(after)
    assert f"{url}/clear" not in after.get_data(as_text=True)  # nothing left to clear


def test_a_verified_visit_offers_no_clearance_and_refuses_one(client, auth, clock):
    booking, _staff = served_visit(clock)
    auth.login(factories.official())
    url = f"/official/visits/{booking.id}"
    before = client.get(url).get_data(as_text=True)  # opened while the visit was unverified
    verification.verify(db.session, booking, record(booking.id), VerifiedBy.CARD, None)
    db.session.commit()
    page = client.get(url)
    assert "by code card at" in text(page) and f"{url}/clear" not in page.get_data(as_text=True)
    refused = submit(client, before, f"{url}/clear", **{"clear-reason": "试试"})  # the stale tab's form
    assert refused.status_code == 409 and record(booking.id).cleared_at is None


def test_a_booking_without_a_visit_record(client, auth):
    booking = factories.booking()
    auth.login(factories.official())
    url = f"/official/visits/{booking.id}"
    page = client.get(url)
    assert page.status_code == 200 and "nobody has checked in" in text(page)
    assert client.post(f"{url}/locations", data={"reveal-reason": "核查"}).status_code == 409
    assert client.post(f"{url}/clear", data={"clear-reason": "核查"}).status_code == 409
    assert not viewed_events()


def test_retention_shows_on_the_page_and_nothing_is_left_to_reveal(client, auth, visit, clock):
    auth.login(factories.official())
    url = f"/official/visits/{visit.id}"
    before = client.get(url).get_data(as_text=True)  # opened before the retention job ran
    clock.set(visit.completed_at + timedelta(days=200))
    assert drop_old_coordinates(db.session) == 1
    db.session.commit()
    assert "deleted on" in text(client.get(url))
    shown = submit(client, before, f"{url}/locations", **{"reveal-reason": "申诉复核"})
    locations = BeautifulSoup(shown.get_data(as_text=True), "html.parser").select_one(".raw-locations")
    assert f"{DOOR[0]:.6f}" not in locations.get_text() and "14 m" in text(shown)


def test_only_officials_see_the_evidence(client, auth, visit):
    for user in (visit.resident, factories.staff(visit.provider)):
        auth.login(user)
        assert client.get(f"/official/visits/{visit.id}").status_code == 403
        assert client.post(f"/official/visits/{visit.id}/locations", data={"reveal-reason": "x"}).status_code == 403
        auth.logout()
    assert not viewed_events()
    auth.login(factories.official())
    assert client.get("/official/visits/999999").status_code == 404
