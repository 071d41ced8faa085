"""Cancellation refunds: timing rules (clock moved), provider faults, the 409 for too large."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from billing import payments
from billing.ledger import balance, gateway_code, is_balanced, provider_payable_code
from billing.payment_models import Refund, RefundStatus
from billing.refunds import RefundTooLarge, create_refund, late_fee
from providers.bookings import services
from tests.billing_helpers import accepted_booking


def paid_booking(**kwargs):
    booking, member = accepted_booking(**kwargs)
    payment = payments.confirm_offline_receipt(db.session, booking)
    db.session.commit()
    return booking, member, payment


def refunds_of(session, payment):
    return session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)).all()


def test_late_fee_is_half_up_to_the_fen():
    assert late_fee(12000, 20) == 2400
    assert late_fee(333, 15) == 50  # 49.95 → 50
    assert late_fee(1, 50) == 1  # 0.5 → 1


def test_resident_cancels_before_the_notice_window_full_refund(db_session, clock):
    booking, _, payment = paid_booking()
    clock.set(booking.starts_at - timedelta(hours=25))
    services.cancel_by_resident(db_session, booking, booking.resident)
    [refund] = refunds_of(db_session, payment)
    assert refund.amount_fen == 12000 and refund.status == RefundStatus.SUCCEEDED
    assert payment.refunded_fen == 12000
    assert balance(db_session, gateway_code("offline")) == 0
    assert balance(db_session, provider_payable_code(booking.provider_id)) == 0
    assert is_balanced(db_session)


def test_resident_cancels_late_provider_keeps_the_fee(db_session, clock):
    booking, _, payment = paid_booking(fee_percent=15)
    clock.set(booking.starts_at - timedelta(hours=2))
    services.cancel_by_resident(db_session, booking, booking.resident)
    [refund] = refunds_of(db_session, payment)
    assert refund.amount_fen == 12000 - 1800
    assert balance(db_session, provider_payable_code(booking.provider_id)) == -1800
    assert balance(db_session, gateway_code("offline")) == 1800
    assert balance(db_session, "resident_clearing") == 0
    assert is_balanced(db_session)


def test_provider_cancellation_is_always_a_full_refund(db_session, clock):
    booking, member, payment = paid_booking(fee_percent=50)
    clock.set(booking.starts_at - timedelta(hours=1))
    services.cancel_by_provider(db_session, booking, member, "staff ill")
    [refund] = refunds_of(db_session, payment)
    assert refund.amount_fen == 12000
    assert balance(db_session, provider_payable_code(booking.provider_id)) == 0
    assert is_balanced(db_session)


def test_confirmed_provider_no_show_is_a_full_refund(db_session, clock):
    booking, member, payment = paid_booking(fee_percent=50)
    clock.set(booking.starts_at + timedelta(minutes=30))
    services.report_provider_no_show(db_session, booking, booking.resident)
    services.confirm_provider_no_show(db_session, booking, member)
    assert [r.amount_fen for r in refunds_of(db_session, payment)] == [12000]
    assert is_balanced(db_session)


def test_refund_larger_than_what_is_left_is_409_and_nothing_changes(db_session):
    booking, _, payment = paid_booking()
    create_refund(db_session, payment, 10000, reason="goodwill")
    db_session.commit()
    with pytest.raises(RefundTooLarge) as error:
        create_refund(db_session, payment, 2001)
    assert error.value.status == 409 and error.value.code == "refund-too-large"
    db_session.rollback()
    assert payment.refunded_fen == 10000
    assert len(refunds_of(db_session, payment)) == 1
    assert balance(db_session, gateway_code("offline")) == 2000
    assert is_balanced(db_session)


def test_cancel_after_a_full_refund_refunds_nothing_more(db_session, clock):
    booking, member, payment = paid_booking()
    create_refund(db_session, payment, 12000)
    services.cancel_by_provider(db_session, booking, member, "closed")
    assert len(refunds_of(db_session, payment)) == 1
    assert is_balanced(db_session)
