"""Payments: when they are due, the offline flow (provider confirms receipt), pages and the ledger."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from billing import payments
from billing.ledger import balance, gateway_code, is_balanced, provider_payable_code
from billing.models import LedgerTransaction
from billing.payment_models import PayAt, Payment, PaymentStatus
from providers.bookings import services
from tests import factories
from tests.forms import open_page, submit
from tests.billing_helpers import accepted_booking


def test_payment_is_due_at_acceptance_by_default(db_session):
    booking = factories.booking()
    assert payments.live_payment(db_session, booking.id) is None
    booking, _ = accepted_booking()
    payment = payments.live_payment(db_session, booking.id)
    assert payment.status == PaymentStatus.PENDING and payment.amount_fen == 12000
    assert payment.gateway == "offline" and payment.currency == "cny"


def test_payment_at_booking_when_the_listing_says_so(db_session):
    booking, _ = accepted_booking(pay_at=PayAt.BOOKING)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Payment)
                             .where(Payment.booking_id == booking.id)) == 1


def test_offline_pay_confirm_complete_posts_the_ledger(db_session, auth, en, clock):
    client = en
    booking, member = accepted_booking()
    auth.login(booking.resident)
    page = submit(client, f"/bookings/{booking.id}", button="Pay now", follow_redirects=True)
    assert page.status_code == 200 and "In cash at the visit" in page.get_data(as_text=True)
    auth.logout()
    auth.login(member)
    opened = open_page(client, f"/provider/bookings/{booking.id}")
    response = opened.submit(button="Payment received")
    assert response.status_code == 303
    payment = payments.live_payment(db_session, booking.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance(db_session, gateway_code("offline")) == 12000
    assert balance(db_session, "resident_clearing") == -12000
    # Twice: a specific 409, nothing more posted.
    again = opened.submit(button="Payment received")  # the same page again (a second tab)
    assert again.status_code == 409 and "already confirmed" in again.get_data(as_text=True)
    clock.set(booking.starts_at)
    services.check_in(db_session, booking, member)
    clock.set(booking.ends_at)
    services.complete(db_session, booking, member)
    db_session.commit()
    assert balance(db_session, provider_payable_code(booking.provider_id)) == -12000
    assert balance(db_session, "resident_clearing") == 0
    assert is_balanced(db_session)
    kinds = db_session.scalars(sa.select(LedgerTransaction.kind).order_by(LedgerTransaction.id)).all()
    assert kinds == ["payment", "earning"]


def test_payment_after_completion_still_posts_the_earning(db_session, clock):
    booking, member = accepted_booking()
    clock.set(booking.starts_at)
    services.check_in(db_session, booking, member)
    clock.set(booking.ends_at)  # a check-out at the start would need a reason for leaving early
    services.complete(db_session, booking, member)
    payments.confirm_offline_receipt(db_session, booking)
    assert balance(db_session, provider_payable_code(booking.provider_id)) == -12000
    assert is_balanced(db_session)


def test_someone_elses_booking_is_404(db_session, auth, client):
    booking, _ = accepted_booking()
    other, other_staff = accepted_booking()
    auth.login(other.resident)
    # Access rules: no page shows these users the buttons, so the posts are hand-made.
    assert client.post(f"/bookings/{booking.id}/pay").status_code == 404
    auth.logout()
    auth.login(other_staff)
    assert client.post(f"/provider/bookings/{booking.id}/payment-received").status_code == 404
    assert payments.live_payment(db_session, booking.id).status == PaymentStatus.PENDING


def test_nothing_to_pay_is_409(db_session, auth, en):
    client = en
    booking, member = accepted_booking()
    payments.confirm_offline_receipt(db_session, booking)
    db_session.commit()
    auth.login(booking.resident)
    # The page offers no "Pay now" for a paid booking: the post is hand-made, to test the guard.
    response = client.post(f"/bookings/{booking.id}/pay")
    assert response.status_code == 409 and "nothing to pay" in response.get_data(as_text=True)


def test_pay_needs_csrf(db_session, auth, client, csrf_enabled):
    booking, _ = accepted_booking()
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(f"/bookings/{booking.id}/pay")  # deliberately without the token
    assert response.status_code in (400, 302, 401, 403)
    assert payments.live_payment(db_session, booking.id).checkout_session_id is None


def test_status_block_on_both_booking_pages(db_session, auth, client):
    booking, member = accepted_booking()
    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert "Pay now" in page or "立即支付" in page or f"/bookings/{booking.id}/pay" in page
    auth.logout()
    auth.login(member)
    page = client.get(f"/provider/bookings/{booking.id}").get_data(as_text=True)
    assert f"/provider/bookings/{booking.id}/payment-received" in page


def test_cancelled_before_payment_cancels_the_pending_payment(db_session):
    booking, member = accepted_booking()
    services.cancel_by_provider(db_session, booking, member, "ill")
    assert payments.latest_payment(db_session, booking.id).status == PaymentStatus.CANCELLED
    assert is_balanced(db_session)
    db.session.commit()
