"""Issue 14 polish: what the pages offer matches what the services accept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext
from bs4 import BeautifulSoup

from app.extensions import db
from app.money import format_fen
from billing import payments
from billing.payment_models import PayAt, PaymentPolicy, Refund
from billing.refunds import late_fee
from providers.bookings import actions
from providers.bookings import services as booking_services
from providers.bookings.actions import Party
from providers.bookings.models import Booking, BookingStatus
from tests import factories
from tests.carer_helpers import carer_for
from tests.forms import open_page, submit
from tests.rating_helpers import completed_booking
from tests.sanction_helpers import provider_with_staff, report

pytestmark = pytest.mark.usefixtures("english_messages")


# --- 1. the booking page offers "Rate this service" exactly when the rate page accepts ----


@pytest.mark.parametrize(("after", "offered"), [
    (timedelta(days=14), True),                       # the last moment of the window
    (timedelta(days=14, seconds=1), False),           # just after it closed
])
def test_the_rate_button_follows_the_rating_window(client, auth, clock, after, offered):
    booking, _ = completed_booking(clock)
    auth.login(booking.resident)
    clock.set(booking.completed_at + after)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert (f'href="/bookings/{booking.id}/rate"' in page) is offered
    rate_page = client.get(f"/bookings/{booking.id}/rate").get_data(as_text=True)
    assert ("Publish my rating" in rate_page) is offered
    assert ("can no longer be rated" in rate_page) is not offered


# --- 2. the fee stated before booking is the fee the refund keeps ---------------------------



def _utc(local_day: str, hour: int) -> datetime:
    y, m, d = map(int, local_day.split("-"))
    return datetime(y, m, d, hour, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)


@pytest.mark.parametrize("pay_at", [PayAt.BOOKING, PayAt.ACCEPTANCE])
@pytest.mark.parametrize("paid", [True, False])
@pytest.mark.parametrize("inside", [True, False])
def test_the_fee_stated_before_booking_is_what_cancelling_keeps(client, auth, db_session, pay_at, paid, inside):
    listing = factories.listing()
    db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=pay_at, late_cancel_fee_percent=20))
    db.session.commit()
    staff, resident = factories.staff(listing.provider), factories.resident(listing.communities[0])
    auth.login(resident)
    # The clock is Monday 2 November 2026, 10:00 in Shanghai: 13:00 today is inside the
    # 24-hour notice, Wednesday 11:00 is not.
    starts = _utc("2026-11-02", 13) if inside else _utc("2026-11-04", 11)
    value = starts.strftime("%Y-%m-%dT%H:%MZ")
    url = f"/listings/{listing.id}/book?day={starts.astimezone(timezone(timedelta(hours=8))).date()}"
    form = BeautifulSoup(client.get(url).get_data(as_text=True), "html.parser")
    choice = form.find("input", attrs={"name": "starts_at", "value": value})
    stated = int(choice["data-fee-if-paid-fen"] if paid else choice["data-fee-if-unpaid-fen"])
    words = choice["data-terms"]
    if inside:
        assert stated == (late_fee(listing.price_fen, 20) if paid else 0)
        fee = format_fen(late_fee(listing.price_fen, 20))
        assert f"keeps 20% of what you have paid ({fee})" in words
        assert "if you have not paid yet, cancelling costs nothing" in words
    else:
        assert stated == 0 and words.startswith("Free cancellation until")

    assert submit(client, url, fields={"starts_at": value, "address": "3号楼"}).status_code == 302
    booking = db_session.scalar(sa.select(Booking).where(Booking.listing_id == listing.id))
    booking_services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    payment = payments.confirm_offline_receipt(db_session, booking) if paid else None
    db_session.commit()

    page = open_page(client, f"/bookings/{booking.id}")
    assert int(page.soup.select_one("#cancel-fee")["data-fee-fen"]) == stated
    assert page.submit(button="Cancel this booking").status_code == 302
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).status == BookingStatus.CANCELLED_BY_RESIDENT
    if payment is None:
        assert stated == 0
        assert not db_session.scalars(sa.select(Refund)).all()
    else:
        [refund] = db_session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
        assert refund.late_fee_fen == stated and refund.amount_fen == payment.amount_fen - stated


# --- 5. the provider's agenda: the carer, the reasons, the list in pages ---------------------


def test_the_agenda_says_not_assigned_and_history_shows_reasons_only_where_there_are(client, auth):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1))
    auth.login(staff)
    day = booking.starts_at.astimezone(timezone(timedelta(hours=8))).date().isoformat()
    for url in (f"/provider/bookings?view=week&date={day}", "/provider/bookings?view=list"):
        row = BeautifulSoup(client.get(url).get_data(as_text=True), "html.parser").find(id=f"booking-{booking.id}")
        assert "Not assigned" in row.get_text(), url
    history = BeautifulSoup(client.get(f"/provider/bookings/{booking.id}").get_data(as_text=True),
                            "html.parser").find(id="booking-history")
    assert "Reason" not in history.find("thead").get_text()  # no change has a reason: no column
    booking_services.perform(db.session, actions.get(Party.PROVIDER, "decline"), booking, staff, "那天没有人手")
    db.session.commit()
    history = BeautifulSoup(client.get(f"/provider/bookings/{booking.id}").get_data(as_text=True),
                            "html.parser").find(id="booking-history")
    assert "Reason" in history.find("thead").get_text()
    cells = [row.find_all("td")[-1] for row in history.find("tbody").find_all("tr")]
    assert [cell.get_text() for cell in cells] == ["", "那天没有人手"]
    assert "no-value" in cells[0]["class"] and not cells[1].get("class")  # hidden on a phone card


def test_the_provider_list_comes_in_pages(client, auth):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    for n in range(16):
        factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1 + n // 4, hour=9 + 2 * (n % 4)))
    auth.login(staff)
    first = BeautifulSoup(client.get("/provider/bookings?view=list").get_data(as_text=True), "html.parser")
    assert len(first.select("tbody tr")) == 15
    pages = first.find(id="list-pages")
    assert "Page 1" in pages.get_text() and pages.find("a", string="Next page")
    second = BeautifulSoup(client.get(pages.find("a", string="Next page")["href"]).get_data(as_text=True),
                           "html.parser")
    assert len(second.select("tbody tr")) == 1 and second.find(id="list-pages").find("a", string="Previous page")


# --- 6. the catalogue's filters fold on a phone, open when one is in use ---------------------


def test_the_catalogue_filters_fold_unless_one_is_in_use(client):
    factories.listing()
    plain = BeautifulSoup(client.get("/catalogue?q=保洁").get_data(as_text=True), "html.parser")
    fold = plain.find(id="filter-fold")
    assert fold.name == "details" and not fold.has_attr("open") and fold.find(id="category")
    assert "in use" not in fold.find("summary").get_text()
    chosen = BeautifulSoup(client.get("/catalogue?category=housekeeping&sort=price_asc").get_data(as_text=True),
                           "html.parser").find(id="filter-fold")
    assert chosen.has_attr("open") and "(2 in use)" in chosen.find("summary").get_text()


# --- 7. labels: one word for one thing --------------------------------------------------------


def test_csv_and_table_headings_say_what_their_column_holds(client):
    header = client.get("/grades.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()[0].split(",")
    assert "Average rating" in header and "Number of ratings" in header
    assert len(set(header)) == len(header)
    with force_locale("zh"):
        # The nav's "Bookings" (预约管理) is not the count of a month's bookings or their table.
        names = {gettext("Bookings"), gettext("Bookings (count)"), gettext("Bookings settled")}
        assert len(names) == 3
        assert gettext("Average rating") != gettext("Number of ratings")
        assert gettext("Calculation term") != gettext("Term")  # not "服务期限"


# --- 8. the supervision dashboard: charts at their own size, a way to run an evaluation -------


def test_the_dashboard_charts_are_never_scaled_below_their_text_size(client, auth):
    provider, _staff = provider_with_staff()
    report(provider)
    auth.login(factories.official())
    soup = BeautifulSoup(client.get("/official/supervision/dashboard").get_data(as_text=True), "html.parser")
    assert soup.find(id="run-evaluation")["href"] == "/official/supervision/evaluate"
    charts = soup.select("svg")
    assert len(charts) == 3
    for svg in charts:
        _x, _y, width, height = svg["viewbox"].split()
        assert (svg["width"], svg["height"]) == (width, height)  # drawn 1:1, never shrunk to fit
        assert svg.parent["class"] == ["chart-scroll"]  # a wide one scrolls in its box
        assert all(int(text["font-size"]) >= 14 for text in svg.find_all("text"))
    assert int(charts[0]["width"]) <= 350  # the bar charts fit a phone (390 px less the margins)
