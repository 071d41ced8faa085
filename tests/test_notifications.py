"""The notification centre: booking changes reach the resident and the provider's staff,
newest first in their language, with the unread count in the header; read-all."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.notifications import Notification, notify
from tests import factories
from tests.conftest import PASSWORD
from tests.test_booking_pages import counting_queries, html, setting, utc
from tests.forms import open_page, submit


def nav_count(page: str) -> int:
    match = re.search(r'id="nav-notifications">Notifications \((\d+)\)<', page)
    assert match, "no notification link in the header"
    return int(match.group(1))


def messages(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", re.sub(r'<span class="badge[^>]*>[^<]*</span>', "", m)).strip()
            for m in re.findall(r'<p id="notification-\d+-text">(.*?)</p>', page, re.S)]


def unread(user) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))


def test_booking_changes_reach_the_resident_and_the_staff_in_their_centres(client, auth, en, clock):
    listing, staff, resident = setting()
    colleague = factories.staff(listing.provider, is_owner=False)
    auth.login(resident)
    starts = utc("2026-11-03", 9)
    booked = submit(client, f"/listings/{listing.id}/book?day=2026-11-03",
                    fields={"starts_at": starts.strftime("%Y-%m-%dT%H:%MZ"), "address": "3号楼"})
    assert booked.status_code == 302
    first = db.session.scalar(sa.select(Notification.params).where(Notification.user_id == staff.id))["booking"]
    second = factories.booking(listing, resident, starts_at=utc("2026-11-04", 9))
    auth.logout()

    for member in (staff, colleague):
        auth.login(member)
        page = html(client.get("/notifications"))
        assert nav_count(page) == 2
        assert messages(page) == [
            f"New booking request #{second.id}: {listing.title} on 2026-11-04 09:00.",
            f"New booking request #{first}: {listing.title} on 2026-11-03 09:00.",
        ]
        auth.logout()

    auth.login(staff)
    assert submit(client, f"/provider/bookings/{first}", button="Accept").status_code == 302
    assert submit(client, f"/provider/bookings/{second.id}", button="Decline",
                  fields={"reason": "no staff that day"}).status_code == 302
    auth.logout()
    auth.login(resident)
    page = html(client.get("/notifications"))
    assert nav_count(page) == 2
    assert messages(page) == [
        f"Your booking #{second.id} ({listing.title}) was declined: no staff that day",
        f"Your booking #{first} ({listing.title}) was accepted.",
    ]
    assert 'action="/notifications/' in page and "Mark all as read" in page


def test_notifications_read_in_the_readers_language(client, auth):
    _listing, staff, resident = setting()
    factories.booking(_listing, resident)
    auth.login(staff)
    client.set_cookie("linli_lang", "zh")
    page = html(client.get("/notifications"))
    assert "New booking request" not in page  # the catalogue translates it
    client.set_cookie("linli_lang", "en")
    assert "New booking request" in html(client.get("/notifications"))


def test_read_all_marks_only_the_users_notifications(client, auth, en):
    listing, staff, resident = setting()
    other_provider = factories.provider()
    other_staff = factories.staff(other_provider)
    factories.booking(listing, resident)
    factories.booking(listing, resident, starts_at=factories.next_slot(listing, hour=11))  # one per slot
    factories.booking(factories.listing(other_provider))
    auth.login(staff)
    assert unread(staff) == 2
    centre = open_page(client, "/notifications")
    response = centre.submit(button="Mark all as read")
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications")
    page = html(client.get("/notifications"))
    assert nav_count(page) == 0 and "All notifications are marked as read." in page
    assert "Mark all as read" not in page and ">New<" not in page
    assert unread(staff) == 0 and unread(other_staff) == 1
    again = centre.submit(button="Mark all as read", follow_redirects=True)  # the page opened before
    assert "There was nothing unread." in html(again)


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(client, auth, en):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident)
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == staff.id))
    auth.login(resident)
    assert client.post(f"/notifications/{note.id}/open").status_code == 404  # not theirs: hand-made
    auth.logout()
    auth.login(staff)
    response = submit(client, "/notifications", action=f"/notifications/{note.id}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/provider/bookings/{booking.id}")
    db.session.expire_all()
    assert note.read_at is not None and unread(staff) == 0


def test_an_offsite_link_is_never_followed(client, auth):
    user = factories.resident()
    notify(db.session, [user.id], "booking.accepted", link="//evil.example/x", booking=1, title="t", when="")
    db.session.commit()
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == user.id))
    auth.login(user)
    response = submit(client, "/notifications", action=f"/notifications/{note.id}/open")
    assert response.headers["Location"].endswith("/notifications")


def test_the_centre_and_read_all_are_for_logged_in_users_with_a_csrf_token(client, csrf_enabled):
    assert client.get("/notifications").status_code == 302
    assert client.post("/notifications/read-all").status_code in (302, 400)  # anonymous: hand-made
    listing, staff, resident = setting()
    factories.booking(listing, resident)
    assert submit(client, "/login", fields={"phone": staff.phone, "password": PASSWORD}).status_code == 302
    assert client.post("/notifications/read-all").status_code == 400  # deliberately without the token
    assert unread(staff) == 1
    assert submit(client, "/notifications", action="/notifications/read-all").status_code == 302  # the page's token
    assert unread(staff) == 0


def test_the_header_count_costs_one_query_and_none_for_visitors(client, auth, en):
    listing, staff, resident = setting()
    factories.booking(listing, resident)

    def notification_queries(url):
        with counting_queries() as seen:
            page = html(client.get(url))
        return page, [s for s in seen if "notification" in s.lower()]

    page, queries = notification_queries("/catalogue")
    assert queries == [] and "nav-notifications" not in page
    auth.login(staff)
    page, queries = notification_queries("/catalogue")
    assert nav_count(page) == 1 and len(queries) == 1 and "count(" in queries[0].lower(), queries
