"""Issue 12, item 2: the fee is fixed when the booking is made.

A provider raised its late-cancellation fee from 20 % to 100 % after a resident had
paid, and she lost everything when she cancelled late.  The listing's payment
policy is now copied onto the booking when it is requested (``booking_fee_policy``),
the booking form shows it before the resident books, and the refund, the no-show
fee and the moment of payment read that copy.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.auth.services import issue_token
from app.extensions import db
from billing import payments
from billing.ledger import balance, is_balanced, provider_payable_code
from billing.payment_models import BookingFeePolicy, PayAt, PaymentPolicy, Refund
from billing.policies import policy_of_booking
from billing.programmes.entitlements import book_with_entitlement
from providers.bookings import services
from providers.bookings.models import Booking, BookingStatus as S
from tests import factories
from tests.form_submit import rendered_form, submit
from tests.programme_helpers import enrolled_resident, open_programme
from tests.carer_helpers import carer_for


def bearer(user) -> dict:
    _, raw = issue_token(db.session, user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def listing_with_policy(percent: int, pay_at: PayAt = PayAt.ACCEPTANCE):
    provider = factories.provider()
    staff = factories.staff(provider)
    listing = factories.listing(provider)
    db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=pay_at, late_cancel_fee_percent=percent))
    db.session.commit()
    return listing, staff


def raise_fee(client, listing, staff, percent: int, pay_at: str = "acceptance") -> None:
    response = client.put(f"/api/v1/listings/{listing.id}/payment-policy", headers=bearer(staff),
                          json={"pay_at": pay_at, "late_cancel_fee_percent": percent})
    assert response.status_code == 200, response.get_json()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def refunds_of(payment) -> list[Refund]:
    return db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()


def test_raising_the_fee_after_booking_charges_the_percentage_shown_and_stored(client, auth, en, db_session, clock):
    listing, staff = listing_with_policy(20)
    resident = factories.resident(listing.communities[0])
    auth.login(resident)
    form_page = client.get(f"/listings/{listing.id}/book")
    assert form_page.status_code == 200
    # Shown before booking: the fee the booking will be made under.
    assert "the provider keeps 20% of what you have paid by then" in text(form_page)
    slot = rendered_form(form_page.get_data(as_text=True), f"/listings/{listing.id}/book").find(
        "input", attrs={"name": "starts_at"})["value"]
    made = submit(client, form_page.get_data(as_text=True), f"/listings/{listing.id}/book",
                  starts_at=slot, address="城里社区3号楼2单元101")
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    booking = db.session.scalar(sa.select(Booking).where(Booking.resident_id == resident.id))
    assert (policy_of_booking(db_session, booking).late_cancel_fee_percent,
            policy_of_booking(db_session, booking).pay_at) == (20, PayAt.ACCEPTANCE)

    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    payment = payments.confirm_offline_receipt(db_session, booking)
    db_session.commit()
    raise_fee(client, listing, staff, 100)  # the abuse: after the resident has paid
    assert db_session.get(PaymentPolicy, listing.id).late_cancel_fee_percent == 100

    clock.set(booking.starts_at - timedelta(hours=2))  # inside the notice window: a late cancellation
    page = client.get(f"/bookings/{booking.id}")
    assert "20% of the payment, fixed when the booking was made" in text(page)
    cancelled = submit(client, page.get_data(as_text=True), f"/bookings/{booking.id}/cancel")
    assert cancelled.status_code == 302, cancelled.get_data(as_text=True)[:500]
    db_session.expire_all()
    booking = db_session.get(Booking, booking.id)
    assert booking.status == S.CANCELLED_BY_RESIDENT and booking.late_cancellation
    [refund] = refunds_of(payment)
    assert (refund.amount_fen, refund.late_fee_fen) == (booking.price_fen * 80 // 100, booking.price_fen * 20 // 100)
    assert balance(db_session, provider_payable_code(booking.provider_id)) == -(booking.price_fen * 20 // 100)
    assert is_balanced(db_session)


def test_a_resident_no_show_keeps_the_stored_fee_not_the_raised_one(client, db_session, clock):
    listing, staff = listing_with_policy(15)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=2))
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    payment = payments.confirm_offline_receipt(db_session, booking)
    db_session.commit()
    raise_fee(client, listing, staff, 100)
    clock.set(booking.starts_at)
    services.check_in(db_session, booking, staff)
    clock.set(booking.starts_at + timedelta(minutes=20))
    services.mark_resident_no_show(db_session, booking, staff)
    db_session.commit()
    [refund] = refunds_of(payment)
    assert refund.late_fee_fen == booking.price_fen * 15 // 100
    assert refund.amount_fen == booking.price_fen - refund.late_fee_fen


def test_when_a_booking_is_paid_is_fixed_too(client, db_session):
    """Switching to "pay when booking" after a booking was made under "pay at acceptance"
    used to leave it with no payment at all: due neither at its request nor at acceptance."""
    listing, staff = listing_with_policy(20, PayAt.ACCEPTANCE)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=2))
    assert payments.live_payment(db_session, booking.id) is None
    raise_fee(client, listing, staff, 20, pay_at="booking")
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    db_session.commit()
    payment = payments.live_payment(db_session, booking.id)
    assert payment is not None and payment.amount_fen == booking.price_fen
    # A booking made after the change is paid when it is requested, as the new policy says.
    later = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=3))
    assert policy_of_booking(db_session, later).pay_at == PayAt.BOOKING
    assert payments.live_payment(db_session, later.id) is not None


def test_a_programme_funded_booking_has_no_resident_fee(db_session):
    programme, award, listing, staff, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    booking = book_with_entitlement(db_session, resident, listing_id=listing.id,
                                    starts_at=factories.next_slot(listing, days_ahead=2), address="3号楼")
    db_session.commit()
    assert db_session.get(BookingFeePolicy, booking.id) is None
