"""Issue 14: the booking form in one screen, every refusal at once, and cancellation honesty.

A slot under 24 hours away was booked under "free cancellation" wording, then cancelling kept
a 20 % fee without warning.  Now the form states, per time, until when cancelling is free (an
exact local time) or what it costs; the booking page states the fee that cancelling now keeps,
which is the amount the refund keeps (billing's ``fee_kept``, on the policy fixed on the
booking); a cancel form shown before the free time ended is refused once it has, with the fee.

The test clock starts on Monday 2 November 2026, 10:00 in Shanghai; factory listings take
bookings Monday to Friday 9:00–17:00 in slots of two hours (9, 11, 13, 15).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.errors import Problems
from app.extensions import db
from app.money import format_fen
from billing import payments
from billing.ledger import balance, is_balanced, provider_payable_code
from billing.payment_models import PaymentPolicy, PayAt, Refund
from billing.programmes.entitlements import book_with_entitlement
from billing.refunds import late_fee
from providers.bookings import services
from providers.bookings.models import Booking, BookingEvent, BookingStatus as S
from tests import factories
from tests.carer_helpers import carer_for
from tests.forms import open_page, submit
from tests.programme_helpers import enrolled_resident, open_programme

pytestmark = pytest.mark.usefixtures("english_messages")


def utc(local_day: str, hour: int, minute: int = 0) -> datetime:
    y, m, d = map(int, local_day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)


def slot(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def text(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def setting(percent: int = 20, pay_at: PayAt = PayAt.ACCEPTANCE):
    listing = factories.listing()
    db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=pay_at, late_cancel_fee_percent=percent))
    db.session.commit()
    return listing, factories.staff(listing.provider), factories.resident(listing.communities[0])


def radio(html: str, value: str):
    found = BeautifulSoup(html, "html.parser").find("input", attrs={"name": "starts_at", "value": value})
    assert found is not None, f"no time {value} on the page"
    return found


# --- the form: what cancelling each time costs --------------------------------------------


def test_a_time_two_days_away_is_free_to_cancel_until_an_exact_local_time(client, auth):
    listing, _staff, resident = setting()
    auth.login(resident)
    starts = utc("2026-11-04", 11)  # 49 hours away
    page = client.get(f"/listings/{listing.id}/book?day=2026-11-04").get_data(as_text=True)
    terms = radio(page, slot(starts))["data-terms"]
    assert terms == "Free cancellation until Tue 11/3 11:00."
    label = radio(page, slot(starts)).find_parent("label")
    assert "Free until Tue 11/3 11:00" in label.get_text(" ") and "slot-fee" not in label["class"]
    # Chosen (the page sent back with another field at fault), the line under the times says it.
    response = submit(client, f"/listings/{listing.id}/book?day=2026-11-04",
                      fields={"starts_at": slot(starts), "address": ""})
    assert response.status_code == 422
    assert 'id="slot-terms" aria-live="polite">Free cancellation until Tue 11/3 11:00.<' in response.get_data(
        as_text=True)


def test_a_time_three_hours_away_states_its_fee_before_booking(client, auth):
    listing, _staff, resident = setting(percent=20)
    auth.login(resident)
    starts = utc("2026-11-02", 13)  # 3 hours away: inside the 24-hour notice
    page = client.get(f"/listings/{listing.id}/book").get_data(as_text=True)
    fee = format_fen(late_fee(listing.price_fen, 20))
    found = radio(page, slot(starts))
    assert "slot-fee" in found.find_parent("label")["class"]
    assert f"Fee if paid: {fee}" in found.find_parent("label").get_text(" ")
    # The refund keeps a share of what was paid: the fee is stated as "if you have paid".
    assert f"cancelling keeps 20% of what you have paid ({fee})" in found["data-terms"]
    assert "if you have not paid yet, cancelling costs nothing" in found["data-terms"]
    assert "Free cancellation until" not in found["data-terms"]
    assert "free cancellation has already ended" in found["data-terms"]


def test_a_provider_keeping_no_fee_is_said_so_inside_the_window(client, auth):
    listing, _staff, resident = setting(percent=0)
    auth.login(resident)
    page = client.get(f"/listings/{listing.id}/book").get_data(as_text=True)
    assert radio(page, slot(utc("2026-11-02", 13)))["data-terms"] == (
        "Cancelling costs nothing: this provider keeps no fee.")


def test_the_programme_form_has_the_same_picker_and_no_fee(client, auth):
    programme, award, listing, staff, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    auth.login(resident)
    page = client.get(f"/my/entitlements/book/{listing.id}").get_data(as_text=True)
    assert f'href="/my/entitlements/book/{listing.id}?day=2026-11-03"' in page
    first = BeautifulSoup(page, "html.parser").find("input", attrs={"name": "starts_at"})
    assert first["data-terms"] == "Paid by the programme: cancelling costs you nothing."
    assert "Fee if paid:" not in page


# --- every refusal at once ----------------------------------------------------------------


def test_a_missing_time_and_a_missing_address_are_refused_together(client, auth):
    listing, _staff, resident = setting()
    auth.login(resident)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Booking))
    response = submit(client, f"/listings/{listing.id}/book?day=2026-11-03",
                      fields={"address": "   ", "note": "n" * 1001})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    summary = BeautifulSoup(html, "html.parser").select_one("[data-error-summary]")
    assert summary is not None and "There are 3 problems" in summary.get_text()
    links = [a["href"] for a in summary.select("a")]
    assert links == ["#starts_at", "#address", "#note"]
    assert 'id="starts_at-error">Choose a time from the list.' in html
    assert 'id="address-error">Enter the address' in html and 'id="note-error">The note is too long' in html
    chosen = BeautifulSoup(html, "html.parser").select_one("#day-strip a[aria-current=date]")
    assert chosen.get_text(strip=True) == "Tue 11/3"  # the day chosen stays chosen
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == before


def test_a_time_gone_too_soon_and_a_missing_address_are_refused_together(client, auth, clock):
    listing, _staff, resident = setting()
    auth.login(resident)
    page = open_page(client, f"/listings/{listing.id}/book?day=2026-11-03")
    clock.set(utc("2026-11-03", 8, 30))  # the page stayed open: its 9:00 is now too soon
    response = page.submit(fields={"starts_at": slot(utc("2026-11-03", 9)), "address": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "There are 2 problems" in html
    assert 'id="starts_at-error">This time is too soon' in html and 'id="address-error">Enter the address' in html


def test_the_service_collects_every_refusal_of_its_input(db_session):
    listing, _staff, resident = setting()
    with pytest.raises(Problems) as refused:
        services.request_booking(db_session, resident, listing_id=listing.id,
                                 starts_at=utc("2026-11-02", 9), address=" ", note="n" * 1001)
    assert [(e.field, str(e)) for e in refused.value.errors] == [
        ("starts_at", "This time is in the past. Choose a later time."),
        ("address", "Enter the address where the service is needed."),
        ("note", "The note is too long (1000 characters at most)."),
    ]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(BookingEvent)) == 0


# --- the booking page: the exact deadline and what cancelling now costs --------------------


def paid_booking(listing, staff, resident, starts):
    booking = factories.booking(listing, resident, starts_at=starts)
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    payment = payments.confirm_offline_receipt(db.session, booking)
    db.session.commit()
    return booking, payment


def test_before_the_deadline_the_booking_page_gives_the_exact_time_and_the_later_fee(client, auth):
    listing, staff, resident = setting()
    booking, _payment = paid_booking(listing, staff, resident, utc("2026-11-05", 9))
    auth.login(resident)
    html = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    fee = format_fen(late_fee(booking.price_fen, 20))
    assert "Free cancellation until Wed 11/4 09:00." in text(html)
    assert f"After that, once the provider has accepted, cancelling costs {fee} (20%)." in text(html)
    cancel = BeautifulSoup(html, "html.parser").select_one("#cancel-fee")
    assert cancel["data-fee-fen"] == "0"
    assert BeautifulSoup(html, "html.parser").select_one(
        "form[action$='/cancel'] button")["data-confirm"] == "Cancel this booking? It costs nothing."


def test_after_the_deadline_the_page_never_says_free_and_the_fee_shown_is_the_fee_kept(client, auth, clock,
                                                                                       db_session):
    listing, staff, resident = setting(percent=20)
    booking, payment = paid_booking(listing, staff, resident, utc("2026-11-03", 13))
    clock.set(utc("2026-11-03", 10))  # 3 hours before the start
    auth.login(resident)
    page = open_page(client, f"/bookings/{booking.id}")
    words = text(page.html)
    assert "Free cancellation until" not in words and "Cancelling now is free" not in words
    assert "Free cancellation ended at Mon 11/2 13:00." in words
    shown = int(page.soup.select_one("#cancel-fee")["data-fee-fen"])
    assert shown == late_fee(payment.amount_fen, 20) > 0
    assert f"Cancelling now costs {format_fen(shown)} (20% of what you paid)" in words
    assert " ".join(page.soup.select_one("#free-cancel-until").get_text(" ").split()) == (
        f"Free cancellation ended at Mon 11/2 13:00. Cancelling now costs {format_fen(shown)}.")
    button = page.soup.select_one("form[action$='/cancel'] button")
    assert button["data-confirm"] == f"Cancel this booking? {format_fen(shown)} will be kept."

    response = page.submit(button="Cancel this booking")
    assert response.status_code == 302
    db_session.expire_all()
    [refund] = db_session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
    assert refund.late_fee_fen == shown  # the number shown is the number kept
    assert refund.amount_fen == payment.amount_fen - shown
    assert balance(db_session, provider_payable_code(booking.provider_id)) == -shown
    assert is_balanced(db_session)


def test_a_cancel_form_shown_while_it_was_free_is_refused_once_it_costs(client, auth, clock, db_session):
    listing, staff, resident = setting(percent=20)
    booking, payment = paid_booking(listing, staff, resident, utc("2026-11-03", 13))
    clock.set(utc("2026-11-02", 12, 30))  # half an hour of free cancellation left
    auth.login(resident)
    page = open_page(client, f"/bookings/{booking.id}")
    assert page.soup.select_one("#cancel-fee")["data-fee-fen"] == "0"
    clock.set(utc("2026-11-02", 13, 30))  # the page stays open past the free time
    response = page.submit(button="Cancel this booking")
    assert response.status_code == 409
    fee = late_fee(payment.amount_fen, 20)
    assert f"cancelling now costs {format_fen(fee)}" in text(response.get_data(as_text=True))
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).status == S.ACCEPTED
    assert not db_session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
    # The page as it is now states the fee; cancelling from it keeps exactly that.
    again = open_page(client, f"/bookings/{booking.id}")
    assert again.soup.select_one("#cancel-fee")["data-fee-fen"] == str(fee)
    assert again.submit(button="Cancel this booking").status_code == 302
    db_session.expire_all()
    [refund] = db_session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()
    assert refund.late_fee_fen == fee


def test_a_request_not_yet_accepted_costs_nothing_to_cancel_but_says_what_acceptance_changes(client, auth,
                                                                                             clock):
    listing, _staff, resident = setting(percent=20)
    booking = factories.booking(listing, resident, starts_at=utc("2026-11-03", 9))
    clock.set(utc("2026-11-02", 20))
    auth.login(resident)
    html = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    words = text(html)
    assert "Free cancellation until" not in words and "Free cancellation ended at Mon 11/2 09:00." in words
    assert (f"Cancelling now costs nothing, because the provider has not accepted yet. Free cancellation ended "
            f"at Mon 11/2 09:00: once the provider accepts, cancelling keeps 20% of what you have paid "
            f"({format_fen(late_fee(booking.price_fen, 20))}); if you have not paid, it costs nothing.") in words


def test_an_accepted_unpaid_booking_inside_the_window_is_late_but_keeps_nothing(client, auth, clock, db_session):
    listing, staff, resident = setting(percent=20)
    booking = factories.booking(listing, resident, starts_at=utc("2026-11-03", 9))
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    db_session.commit()
    clock.set(utc("2026-11-02", 20))
    auth.login(resident)
    page = open_page(client, f"/bookings/{booking.id}")
    assert "You have not paid yet, so no fee is kept." in text(page.html)
    assert page.soup.select_one("#cancel-fee")["data-fee-fen"] == "0"
    assert page.submit(button="Cancel this booking").status_code == 302
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).late_cancellation


def test_a_programme_funded_booking_says_there_is_no_fee(client, auth, clock):
    programme, award, listing, staff, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    booking = book_with_entitlement(db.session, resident, listing_id=listing.id,
                                    starts_at=factories.next_slot(listing, days_ahead=1), address="3号楼")
    db.session.commit()
    clock.set(booking.starts_at - timedelta(hours=3))
    auth.login(resident)
    words = text(client.get(f"/bookings/{booking.id}").get_data(as_text=True))
    assert "Paid by the programme: cancelling costs you nothing." in words
    assert "Free cancellation until" not in words and not re.search(r"costs ¥", words)
