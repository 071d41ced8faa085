"""Booking pages: a resident books and follows a booking; provider staff work from an
agenda and a list; access rules, bad input, the slot-taken conflict, query counts.

The test clock starts on Monday 2 November 2026, 10:00 in Shanghai; factory
listings take bookings Monday to Friday 9:00–17:00 in slots of two hours
(9, 11, 13, 15), two places each.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from app.notifications import Notification
from providers.bookings import services
from providers.bookings.models import Booking, BookingEvent, BookingSlot, BookingStatus as S
from providers.models import ListingStatus
from tests import factories
from tests.conftest import PASSWORD
from tests.forms import open_page, submit
from tests.carer_helpers import carer_for


def utc(local_day: str, hour: int, minute: int = 0) -> datetime:
    """A local (Shanghai) wall-clock time as UTC."""
    y, m, d = map(int, local_day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)


def slot(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def counts() -> tuple[int, int, int]:
    """Bookings, places taken, events: what a refused request must leave unchanged."""
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(Booking)),
        db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(BookingSlot.taken), 0))),
        db.session.scalar(sa.select(sa.func.count()).select_from(BookingEvent)),
    )


def html(response) -> str:
    return response.get_data(as_text=True)


def setting(listing=None):
    """A listing, one staff member of its provider and one resident of its community."""
    listing = listing or factories.listing()
    staff = factories.staff(listing.provider)
    resident = factories.resident(listing.communities[0])
    return listing, staff, resident


def advance(booking, to: S, staff, clock=None):
    """Move a booking through the real services to ``to`` (and commit)."""
    session = db.session
    if to in (S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.CANCELLED_BY_PROVIDER):
        services.accept(session, booking, staff, carer_id=carer_for(booking))
    if to in (S.IN_SERVICE, S.COMPLETED):
        clock.set(booking.starts_at)
        services.check_in(session, booking, staff)
    if to == S.COMPLETED:
        clock.set(booking.ends_at)
        services.complete(session, booking, staff)
    if to == S.DECLINED:
        services.decline(session, booking, staff, "fully booked")
    if to == S.CANCELLED_BY_PROVIDER:
        services.cancel_by_provider(session, booking, staff, "staff ill")
    if to == S.CANCELLED_BY_RESIDENT:
        services.cancel_by_resident(session, booking, booking.resident)
    session.commit()
    return booking


@contextmanager
def counting_queries():
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


# --- booking a listing -------------------------------------------------------------------


def test_the_listing_page_links_to_the_booking_form_for_residents_of_its_community(client, auth, en):
    listing, staff, resident = setting()
    link = f'href="/listings/{listing.id}/book"'
    assert link in html(client.get(f"/listings/{listing.id}"))  # anonymous: log in on the way
    auth.login(resident)
    assert link in html(client.get(f"/listings/{listing.id}"))
    auth.logout()
    auth.login(factories.resident())  # another community
    assert link not in html(client.get(f"/listings/{listing.id}"))
    auth.logout()
    auth.login(staff)
    assert link not in html(client.get(f"/listings/{listing.id}"))


def test_the_form_offers_two_weeks_of_free_slots_by_local_day_and_prefills_the_last_address(client, auth, en):
    listing, _staff, resident = setting()
    other = factories.resident(listing.communities[0])
    factories.booking(listing, other, starts_at=utc("2026-11-03", 9))  # one of two places left
    factories.booking(listing, other, starts_at=utc("2026-11-03", 11))
    factories.booking(listing, starts_at=utc("2026-11-03", 11))  # full (one live booking per resident)
    factories.booking(listing, resident, starts_at=utc("2026-11-04", 9), address="城里社区5号楼1单元302")
    auth.login(resident)
    response = client.get(f"/listings/{listing.id}/book")
    page = html(response)
    assert response.status_code == 200
    # The day strip: the days with free places, each a link to the page for that day.
    days = re.findall(rf'href="/listings/{listing.id}/book\?day=([0-9-]+)"', page)
    assert days[0] == "2026-11-02" and days[-1] == "2026-11-13" and len(days) == 10  # weekdays only
    assert not {"2026-11-07", "2026-11-08"} & set(days)
    assert "Mon 11/2" in page and "Tue 11/3" in page
    values = re.findall(r'type="radio" name="starts_at" value="([^"]+)"', page)
    # The first day only: 11:00 is within the hour, so 13:00 and 15:00.
    assert values == [slot(utc("2026-11-02", 13)), slot(utc("2026-11-02", 15))]
    every = []
    for day in days:  # as a person taps through the strip
        every += re.findall(r'type="radio" name="starts_at" value="([^"]+)"',
                            html(client.get(f"/listings/{listing.id}/book?day={day}")))
    assert slot(utc("2026-11-03", 11)) not in every  # full
    assert slot(utc("2026-11-13", 15)) in every and slot(utc("2026-11-16", 9)) not in every
    assert len(every) == 2 + 9 * 4 - 1  # 9 more weekdays of four slots, one full
    tuesday = html(client.get(f"/listings/{listing.id}/book?day=2026-11-03"))
    assert "Time on Tue 11/3" in tuesday and 'title="1 place left">1 left<' in tuesday and 'title="2 places left">2 left<' in tuesday
    assert "09:00–11:00" in tuesday
    assert 'value="城里社区5号楼1单元302"' in page


def test_a_day_without_free_times_shows_the_first_day_that_has(client, auth, en):
    listing, _staff, resident = setting()
    auth.login(resident)
    for asked in ("2026-11-07", "not-a-day", "2026-12-30"):
        page = html(client.get(f"/listings/{listing.id}/book?day={asked}"))
        assert 'aria-current="date"' in page and "Mon 11/2" in page
        assert re.findall(r'name="starts_at" value="([^"]+)"', page)[0] == slot(utc("2026-11-02", 13))


def test_a_resident_books_and_lands_on_the_booking(client, auth, en, db_session):
    listing, staff, resident = setting()
    auth.login(resident)
    starts = utc("2026-11-03", 9)
    response = submit(client, f"/listings/{listing.id}/book?day=2026-11-03",
                      fields={"starts_at": slot(starts), "address": "城里社区3号楼101", "note": "有猫"})
    assert response.status_code == 302
    booking = db_session.scalar(sa.select(Booking).where(Booking.resident_id == resident.id))
    assert response.headers["Location"].endswith(f"/bookings/{booking.id}")
    assert (booking.status, booking.starts_at, booking.address, booking.note) == (
        S.REQUESTED, starts, "城里社区3号楼101", "有猫")
    page = html(client.get(f"/bookings/{booking.id}"))
    assert "Your request is sent. The provider will answer by 2026-11-02 14:00." in page
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == staff.id, Notification.kind == "booking.requested")) == 1


# "form": filled in on the page as rendered; "tampered": a hand-made body with a time the
# page does not offer, or without the address field it renders (posted raw on purpose).
@pytest.mark.parametrize("how, data, field, message", [
    ("form", {"address": "x"}, "starts_at", "Choose a time from the list."),
    ("tampered", {"starts_at": "tomorrow morning", "address": "x"}, "starts_at", "Choose a time from the list."),
    ("tampered", {"starts_at": slot(utc("2026-11-03", 9, 30)), "address": "x"}, "starts_at",
     "Choose a time from the list."),
    ("tampered", {"starts_at": slot(utc("2026-11-07", 9)), "address": "x"}, "starts_at",
     "Choose a time from the list."),
    ("tampered", {"starts_at": slot(utc("2026-11-24", 9)), "address": "x"}, "starts_at",
     "Choose a time from the list."),
    ("tampered", {"starts_at": slot(utc("2026-10-30", 9)), "address": "x"}, "starts_at", "This time is in the past."),
    ("tampered", {"starts_at": slot(utc("2026-11-02", 9)), "address": "x"}, "starts_at", "This time is in the past."),
    ("tampered", {"starts_at": slot(utc("2026-11-02", 11)), "address": "x"}, "starts_at", "too soon"),
    ("form", {"starts_at": slot(utc("2026-11-03", 9)), "address": "  "}, "address", "Enter the address"),
    ("tampered", {"starts_at": slot(utc("2026-11-03", 9))}, "address", "Enter the address"),
    ("form", {"starts_at": slot(utc("2026-11-03", 9)), "address": "楼" * 201}, "address", "too long"),
    ("form", {"starts_at": slot(utc("2026-11-03", 9)), "address": "x", "note": "n" * 1001}, "note", "too long"),
])
def test_bad_booking_input_is_refused_on_its_field_and_writes_nothing(client, auth, en, how, data, field, message):
    listing, _staff, resident = setting()
    auth.login(resident)
    before = counts()
    if how == "form":
        response = submit(client, f"/listings/{listing.id}/book?day=2026-11-03", fields=data)
    else:
        response = client.post(f"/listings/{listing.id}/book", data=data)
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error"[^>]*>([^<]+)</p>', html(response))
    assert error and message in error.group(1), html(response)[:3000]
    assert counts() == before


def test_a_listing_of_another_community_cannot_be_booked(client, auth, en):
    listing = factories.listing()
    outsider = factories.resident()
    auth.login(outsider)
    response = client.get(f"/listings/{listing.id}/book")
    assert response.status_code == 403
    assert "not offered in your community" in html(response)
    before = counts()
    # The page is a 403 without a form: the outsider's post is hand-made.
    response = client.post(f"/listings/{listing.id}/book",
                           data={"starts_at": slot(utc("2026-11-03", 9)), "address": "x"})
    assert response.status_code == 422 and "not offered in your community" in html(response)
    assert counts() == before


def test_a_slot_taken_meanwhile_is_a_409_with_fresh_slots(client, auth, en, db_session):
    listing, _staff, resident = setting()
    starts = utc("2026-11-03", 9)
    auth.login(resident)
    page = open_page(client, f"/listings/{listing.id}/book?day=2026-11-03")
    assert slot(starts) in page.html
    factories.booking(listing, starts_at=starts)  # two other residents
    factories.booking(listing, starts_at=starts)
    before = counts()
    response = page.submit(fields={"starts_at": slot(starts), "address": "x楼"})  # the page shown before
    assert response.status_code == 409
    page = html(response)
    assert "this time slot was just taken" in page
    assert f'value="{slot(starts)}"' not in page and f'value="{slot(utc("2026-11-03", 11))}"' in page
    assert 'value="x楼"' in page  # what the resident typed stays
    assert counts() == before
    assert db_session.scalar(sa.select(BookingSlot.taken).where(BookingSlot.starts_at == starts,
                                                                 BookingSlot.listing_id == listing.id)) == 2


def test_only_residents_book(client, auth):
    listing, staff, _resident = setting()
    url = f"/listings/{listing.id}/book"
    assert client.get(url).status_code == 302 and "/login" in client.get(url).headers["Location"]
    # Access rules: nobody here is shown the form, so the posts are hand-made.
    assert client.post(url, data={"address": "x"}).status_code == 302
    for user in (staff, factories.official()):
        auth.login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, data={"starts_at": slot(utc("2026-11-03", 9)), "address": "x"}).status_code == 403
        auth.logout()
    draft = factories.listing(listing.provider, status=ListingStatus.DRAFT)
    auth.login(factories.resident(listing.communities[0]))
    assert client.get(f"/listings/{draft.id}/book").status_code == 404


def test_booking_needs_the_csrf_token(client, csrf_enabled):
    listing, _staff, resident = setting()
    login = submit(client, "/login", fields={"phone": resident.phone, "password": PASSWORD})
    assert login.status_code == 302
    before = counts()
    # Deliberately raw: a body without the token the page renders is refused.
    response = client.post(f"/listings/{listing.id}/book",
                           data={"starts_at": slot(utc("2026-11-03", 9)), "address": "x"})
    assert response.status_code == 400
    assert counts() == before
    response = submit(client, f"/listings/{listing.id}/book?day=2026-11-03",
                      fields={"starts_at": slot(utc("2026-11-03", 9)), "address": "x"})
    assert response.status_code == 302


# --- the resident's bookings --------------------------------------------------------------


def test_my_bookings_shows_open_ones_first_then_closed(client, auth, en):
    listing, staff, resident = setting()
    later = factories.booking(listing, resident, starts_at=utc("2026-11-05", 9))
    sooner = factories.booking(listing, resident, starts_at=utc("2026-11-04", 9))
    closed = advance(factories.booking(listing, resident, starts_at=utc("2026-11-03", 9)), S.DECLINED, staff)
    factories.booking(listing)  # someone else's
    auth.login(resident)
    page = html(client.get("/bookings"))
    ids = [int(n) for n in re.findall(r'id="booking-(\d+)"', page)]
    assert ids == [sooner.id, later.id, closed.id]
    for expected in ("Waiting for the provider", "Declined", "2026-11-04 09:00", listing.title,
                     listing.provider.name, "¥120.00", "Past and closed"):
        assert expected in page, expected


def test_the_booking_page_shows_deadlines_history_and_what_the_resident_can_do(client, auth, en, clock):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident, starts_at=utc("2026-11-04", 9))
    auth.login(resident)
    page = html(client.get(f"/bookings/{booking.id}"))
    for expected in ("Waiting for the provider", "Respond by", "2026-11-02 14:00", "2026-11-04 09:00",
                     "2026-11-04 11:00", "2026-11-04 09:15", "2026-11-04 11:15", "Free cancellation until",
                     "2026-11-03 09:00", "None recorded", resident.name, "Free cancellation until Tue 11/3 09:00.",
                     f'action="/bookings/{booking.id}/cancel"'):
        assert expected in page, expected
    assert f"/bookings/{booking.id}/confirm" not in page and "report-no-show" not in page
    advance(booking, S.ACCEPTED, staff)
    clock.set(utc("2026-11-04", 8))
    page = html(client.get(f"/bookings/{booking.id}"))
    assert "late cancellation" in page and "If nobody comes, you can report it from 2026-11-04 09:15" in page
    assert f"{staff.name}</td>" in page and "Waiting for the provider → Accepted" in page


def test_someone_elses_booking_is_a_404_and_other_roles_get_403(client, auth):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident)
    auth.login(factories.resident(listing.communities[0]))
    assert client.get(f"/bookings/{booking.id}").status_code == 404
    for action in ("cancel", "confirm", "report-no-show"):  # no page shows them this form: hand-made
        assert client.post(f"/bookings/{booking.id}/{action}").status_code == 404
    assert db.session.get(Booking, booking.id).status == S.REQUESTED
    auth.logout()
    auth.login(staff)
    assert client.get("/bookings").status_code == 403
    assert client.get(f"/bookings/{booking.id}").status_code == 403


def test_a_free_and_a_late_cancellation(client, auth, en, clock, db_session):
    listing, staff, resident = setting()
    free = advance(factories.booking(listing, resident, starts_at=utc("2026-11-05", 9)), S.ACCEPTED, staff)
    late = advance(factories.booking(listing, resident, starts_at=utc("2026-11-03", 9)), S.ACCEPTED, staff)
    auth.login(resident)
    response = submit(client, f"/bookings/{free.id}", button="Cancel this booking", fields={"reason": "plans changed"})
    assert response.status_code == 302
    assert "Your booking is cancelled." in html(client.get(f"/bookings/{free.id}"))
    clock.set(utc("2026-11-02", 20))  # 13 hours before the start: inside the 24-hour notice
    page = open_page(client, f"/bookings/{late.id}")
    response = page.submit(button="Cancel this booking", fields={"reason": ""})
    assert response.status_code == 302
    assert "recorded as a late cancellation" in html(client.get(f"/bookings/{late.id}"))
    db_session.expire_all()
    assert (free.status, free.late_cancellation, free.status_reason) == (S.CANCELLED_BY_RESIDENT, False, "plans changed")
    assert (late.status, late.late_cancellation) == (S.CANCELLED_BY_RESIDENT, True)
    response = page.submit(button="Cancel this booking")  # the same page again (a second tab)
    assert response.status_code == 409 and "cannot become" in html(response)


def test_confirming_completion_and_reporting_a_no_show(client, auth, en, clock, db_session):
    listing, staff, resident = setting()
    done = advance(factories.booking(listing, resident, starts_at=utc("2026-11-03", 9)), S.COMPLETED, staff, clock)
    missed = advance(factories.booking(listing, resident, starts_at=utc("2026-11-04", 9)), S.ACCEPTED, staff)
    auth.login(resident)
    done_page = open_page(client, f"/bookings/{done.id}")
    page = done_page.html
    assert f'action="/bookings/{done.id}/confirm"' in page
    assert f'href="/bookings/{done.id}/rate"' in page and f'href="/bookings/{done.id}/complain"' in page
    assert done_page.submit(button="Confirm the service was done").status_code == 302
    response = done_page.submit(button="Confirm the service was done")  # the same page again
    assert response.status_code == 409 and "already confirmed" in html(response)

    clock.set(utc("2026-11-04", 9, 10))  # before start + grace: too early
    before = counts()
    # The page does not offer the report yet: the early post is hand-made, to test the guard.
    response = client.post(f"/bookings/{missed.id}/report-no-show")
    assert response.status_code == 422 and "once the start time plus 15 minutes" in html(response)
    assert counts() == before
    clock.set(utc("2026-11-04", 9, 16))
    response = submit(client, f"/bookings/{missed.id}", button="Report that the provider did not come")
    assert response.status_code == 302
    db_session.expire_all()
    assert done.confirmed_at is not None and missed.no_show_reported_at == clock.now()
    assert "report-no-show" not in html(client.get(f"/bookings/{missed.id}"))


def test_a_resident_action_illegal_in_the_state_is_a_409_and_changes_nothing(client, auth, en):
    listing, _staff, resident = setting()
    booking = factories.booking(listing, resident)
    auth.login(resident)
    before = counts()
    # Not offered on a requested booking: a hand-made post, to test the guard.
    response = client.post(f"/bookings/{booking.id}/confirm")
    assert response.status_code == 409 and "Only a completed booking can be confirmed." in html(response)
    response = submit(client, f"/bookings/{booking.id}", button="Cancel this booking", fields={"reason": "r" * 1001})
    assert response.status_code == 422 and "too long" in html(response)
    assert counts() == before


# --- provider staff: agenda, list, one booking ------------------------------------------


def test_the_day_and_week_agenda_in_local_time(client, auth, en):
    listing, staff, resident = setting()
    tue = factories.booking(listing, resident, starts_at=utc("2026-11-03", 9))
    wed = factories.booking(listing, resident, starts_at=utc("2026-11-04", 15))
    next_week = factories.booking(listing, resident, starts_at=utc("2026-11-09", 9))
    elsewhere = factories.booking(factories.listing(), starts_at=utc("2026-11-03", 9))
    auth.login(staff)

    def shown(**params):
        page = html(client.get("/provider/bookings", query_string=params))
        return page, {int(n) for n in re.findall(r'id="booking-(\d+)"', page)}

    page, ids = shown(view="day", date="2026-11-03")
    assert ids == {tue.id} and "09:00–11:00" in page and resident.name in page and listing.title in page
    assert "date=2026-11-02" in page and "date=2026-11-04" in page
    page, ids = shown(view="week", date="2026-11-04")
    assert ids == {tue.id, wed.id} and "2026-11-02 – 2026-11-08" in page
    assert "date=2026-10-26" in page and "date=2026-11-09" in page
    assert shown(view="week", date="2026-11-09")[1] == {next_week.id}
    page, ids = shown()  # today (Monday 2 November) by default
    assert ids == set() and "2026-11-02 Monday" in page and "No bookings." in page
    assert elsewhere.id not in shown(view="week")[1]


def test_bad_agenda_parameters_fall_back_with_a_note(client, auth, en):
    _listing, staff, _resident = setting()
    auth.login(staff)
    response = client.get("/provider/bookings", query_string={"view": "month", "date": "2026-13-45"})
    assert response.status_code == 200
    page = html(response)
    assert "showing the day" in page and "showing today" in page and "2026-11-02 Monday" in page
    response = client.get("/provider/bookings", query_string={"view": "list", "status": "nonsense", "page": "x"})
    assert response.status_code == 200 and "no such status" in html(response)


def test_the_list_puts_open_requests_first_with_their_deadline_and_filters_by_status(client, auth, en, clock):
    listing, staff, resident = setting()
    accepted = advance(factories.booking(listing, resident, starts_at=utc("2026-11-06", 9)), S.ACCEPTED, staff)
    clock.set(utc("2026-11-02", 11))
    second = factories.booking(listing, resident, starts_at=utc("2026-11-03", 9))
    clock.set(utc("2026-11-02", 10, 30))
    first = factories.booking(listing, resident, starts_at=utc("2026-11-05", 9))
    clock.set(utc("2026-11-02", 14, 45))  # the first request is overdue
    auth.login(staff)
    page = html(client.get("/provider/bookings", query_string={"view": "list"}))
    assert [int(n) for n in re.findall(r'id="booking-(\d+)"', page)] == [first.id, second.id, accepted.id]
    assert '<strong class="error">2026-11-02 14:30</strong>' in page  # overdue: highlighted
    assert '<strong class="">2026-11-02 15:00</strong>' in page
    page = html(client.get("/provider/bookings", query_string={"view": "list", "status": "accepted"}))
    assert [int(n) for n in re.findall(r'id="booking-(\d+)"', page)] == [accepted.id]


def test_the_agenda_runs_the_same_queries_for_two_or_ten_bookings(client, auth):
    listing, staff, resident = setting()
    auth.login(staff)

    def statements(view):
        client.get("/provider/bookings", query_string={"view": view, "date": "2026-11-03"})  # warm up
        with counting_queries() as seen:
            assert client.get("/provider/bookings",
                              query_string={"view": view, "date": "2026-11-03"}).status_code == 200
        return len(seen)

    factories.booking(listing, resident, starts_at=utc("2026-11-03", 9))
    factories.booking(listing, starts_at=utc("2026-11-04", 9))
    few = {view: statements(view) for view in ("day", "week", "list")}
    for day in ("2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"):
        for hour in (11, 13):
            factories.booking(listing, starts_at=utc(day, hour))
    many = {view: statements(view) for view in ("day", "week", "list")}
    assert many == few, (few, many)


def test_provider_staff_take_a_booking_from_request_to_done(client, auth, en, clock, db_session):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident, starts_at=utc("2026-11-03", 9))
    auth.login(staff)
    page = html(client.get(f"/provider/bookings/{booking.id}"))
    assert "Answer by 2026-11-02 14:00." in page and "/accept" in page and "/decline" in page
    url = f"/provider/bookings/{booking.id}"
    assert submit(client, url, button="Accept").status_code == 302
    page = html(client.get(f"/provider/bookings/{booking.id}"))
    assert "You accepted the booking." in page and "You can check in from 2026-11-03 08:00." in page
    assert "/check-in" not in page and "/cancel" in page
    # Check-in is not offered yet: the early post is hand-made, to test the guard.
    response = client.post(f"/provider/bookings/{booking.id}/check-in")
    assert response.status_code == 422 and "at most one hour before the start" in html(response)
    clock.set(utc("2026-11-03", 9, 20))
    assert submit(client, url, button="Check in: we have arrived").status_code == 302
    clock.set(utc("2026-11-03", 11))
    assert submit(client, url, button="Mark as done").status_code == 302
    db_session.expire_all()
    assert (booking.status, booking.late_start, booking.late_finish) == (S.COMPLETED, True, False)
    page = html(client.get(f"/provider/bookings/{booking.id}"))
    assert "Late start" in page and "In service → Completed" in page


def test_decline_and_cancel_need_a_reason_and_illegal_actions_are_409(client, auth, en, db_session):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident)
    auth.login(staff)
    before = counts()
    url = f"/provider/bookings/{booking.id}"
    response = submit(client, url, button="Decline", fields={"reason": " "})
    assert response.status_code == 422
    assert re.search(r'id="reason-decline-error">Give a reason', html(response))
    # Actions the page does not offer on a request: hand-made posts, to test the guards.
    response = client.post(f"/provider/bookings/{booking.id}/complete")
    assert response.status_code == 409 and "cannot become" in html(response)
    response = client.post(f"/provider/bookings/{booking.id}/cancel")
    assert response.status_code == 422 and "Give a reason" in html(response)
    assert client.post(f"/provider/bookings/{booking.id}/teleport").status_code == 404
    assert counts() == before
    assert submit(client, url, button="Decline", fields={"reason": "no staff"}).status_code == 302
    db_session.expire_all()
    assert (booking.status, booking.status_reason) == (S.DECLINED, "no staff")


def test_no_shows_recorded_by_the_provider(client, auth, en, clock, db_session):
    listing, staff, resident = setting()
    absent = advance(factories.booking(listing, resident, starts_at=utc("2026-11-03", 9)), S.ACCEPTED, staff)
    missed = advance(factories.booking(listing, resident, starts_at=utc("2026-11-03", 11)), S.ACCEPTED, staff)
    auth.login(staff)
    # Neither is offered yet: hand-made posts, to test the guards.
    response = client.post(f"/provider/bookings/{absent.id}/resident-no-show")
    assert response.status_code == 409 and "Check in first" in html(response)
    response = client.post(f"/provider/bookings/{missed.id}/confirm-no-show")
    assert response.status_code == 409 and "has not reported a no-show" in html(response)
    clock.set(utc("2026-11-03", 9))
    assert client.post(f"/provider/bookings/{absent.id}/check-in").status_code == 302
    clock.set(utc("2026-11-03", 11, 20))
    response = submit(client, f"/provider/bookings/{absent.id}", button="Record that the resident was not there",
                      fields={"reason": "door locked"})
    assert response.status_code == 302
    services.report_provider_no_show(db_session, missed, resident)
    db_session.commit()
    page = html(client.get(f"/provider/bookings/{missed.id}"))
    assert "reported on 2026-11-03 11:20 that nobody came" in page and "/confirm-no-show" in page
    assert submit(client, f"/provider/bookings/{missed.id}", button="Confirm that we did not come").status_code == 302
    db_session.expire_all()
    assert (absent.status, missed.status) == (S.NO_SHOW_RESIDENT, S.NO_SHOW_PROVIDER)


def test_another_providers_booking_is_a_404_and_other_roles_get_403(client, auth, db_session):
    listing, _staff, resident = setting()
    booking = factories.booking(listing, resident)
    auth.login(factories.staff())  # staff of another provider
    assert client.get(f"/provider/bookings/{booking.id}").status_code == 404
    # Access rules: no page shows these users the forms, so the posts are hand-made.
    for action in ("accept", "decline", "check-in", "complete", "cancel", "confirm-no-show", "resident-no-show"):
        assert client.post(f"/provider/bookings/{booking.id}/{action}", data={"reason": "x"}).status_code == 404
    db_session.expire_all()
    assert booking.status == S.REQUESTED
    auth.logout()
    for user in (resident, factories.official()):
        auth.login(user)
        assert client.get("/provider/bookings").status_code == 403
        assert client.get(f"/provider/bookings/{booking.id}").status_code == 403
        assert client.post(f"/provider/bookings/{booking.id}/accept").status_code == 403
        auth.logout()
    auth.login(factories.user(Role.PROVIDER_STAFF))  # staff of no provider at all
    assert client.get("/provider/bookings").status_code == 403


def test_the_nav_links_to_bookings_for_residents_and_staff(client, auth, en):
    _listing, staff, resident = setting()
    auth.login(resident)
    page = html(client.get("/bookings"))
    assert 'href="/bookings"' in page and 'href="/provider/bookings"' not in page
    auth.logout()
    auth.login(staff)
    page = html(client.get("/provider/bookings"))
    assert 'href="/provider/bookings"' in page and ">My bookings<" not in page
