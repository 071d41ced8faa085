"""What tests/test_faults.py breaks, and how it reads what was left.

Each arrangement commits in an app context of its own (the fault app's
database really commits) and returns plain values; each reader opens a fresh
context, so it sees the database as it is, not what a session remembers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from app.audit import AuditEvent
from app.auth.services import issue_token
from app.clock import zone
from app.extensions import db
from app.notifications import Notification
from billing.models import LedgerTransaction
from billing.payment_models import (GatewayEvent, PayAt, Payment, PaymentPolicy, Payout, PayoutAccount, Settlement,
                                    SettlementLine)
from billing.payments import live_payment, record_success
from billing.settlements import Period
from providers.bookings import services
from providers.bookings.models import Booking, BookingEvent, BookingSlot
from ratings.supervision import rules
from ratings.supervision.evaluator import as_of_day
from ratings.supervision.models import EvaluationRun, PenaltyReport, ProviderSnapshot
from tests import factories
from tests.billing_helpers import accepted_booking, event
from tests.conftest import PASSWORD
from tests.fault_helpers import ledger_problems
from tests.helpers import count
from tests.supervision_helpers import bookings as supervision_history
from tests.supervision_helpers import serving_provider
from tests.carer_helpers import carer_for


def local_time(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone())


# --- bookings --------------------------------------------------------------------------------------


def booking_shop(app, *, token: bool = False) -> tuple[int, str, datetime]:
    """A listing paid at booking (so a payment is written with the booking), its staff
    (notified of it), a resident of its community; returns (listing id, the resident's
    phone, or an API token with ``token``, a free slot)."""
    with app.app_context():
        provider = factories.provider()
        listing = factories.listing(provider)
        factories.staff(provider)
        db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=PayAt.BOOKING, late_cancel_fee_percent=20))
        resident = factories.resident(listing.communities[0])
        who = issue_token(db.session, resident, "fault test")[1] if token else resident.phone
        db.session.commit()
        return listing.id, who, factories.next_slot(listing)


def logged_in(app, phone: str):
    client = app.test_client()
    assert client.post("/login", data={"phone": phone, "password": PASSWORD}).status_code == 302
    return client


def booking_rows(app, listing_id: int) -> dict:
    """What a booking of the listing wrote: bookings, their history, payments, places
    taken, the provider's notifications."""
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Booking.id).where(Booking.listing_id == listing_id)))
        return {
            "bookings": len(ids),
            "events": count(BookingEvent, BookingEvent.booking_id.in_(ids)),
            "payments": count(Payment, Payment.booking_id.in_(ids)),
            "taken": db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(BookingSlot.taken), 0))
                                       .where(BookingSlot.listing_id == listing_id)),
            "notifications": count(Notification, Notification.link.in_([f"/provider/bookings/{i}" for i in ids])),
        }


NO_BOOKING = {"bookings": 0, "events": 0, "payments": 0, "taken": 0, "notifications": 0}
ONE_BOOKING = {"bookings": 1, "events": 1, "payments": 1, "taken": 1, "notifications": 1}


# --- webhooks --------------------------------------------------------------------------------------


def stripe_payment(app) -> tuple[int, str]:
    """An accepted booking's pending Stripe payment (the app must run the Stripe gateway);
    returns (payment id, its payment intent id)."""
    with app.app_context():
        booking, _staff = accepted_booking()
        payment = live_payment(db.session, booking.id)
        assert payment.gateway == "stripe"
        payment.payment_intent_id = f"pi_fault_{payment.id}"
        db.session.commit()
        return payment.id, payment.payment_intent_id


def succeeded(event_id: str, payment_id: int, intent: str) -> bytes:
    return event(event_id, "payment_intent.succeeded", {
        "id": intent, "object": "payment_intent", "status": "succeeded", "amount": 12000,
        "amount_received": 12000, "currency": "cny", "metadata": {"payment_id": str(payment_id)}})


def payment_state(app, payment_id: int, event_id: str) -> tuple:
    """(payment status, events stored under ``event_id``, the payment's ledger transactions,
    ledger problems)."""
    with app.app_context():
        return (db.session.get(Payment, payment_id).status.value,
                count(GatewayEvent, GatewayEvent.event_id == event_id),
                count(LedgerTransaction, LedgerTransaction.idempotency_key == f"payment:{payment_id}"),
                ledger_problems())


# --- settlements -----------------------------------------------------------------------------------


def stripe_earnings(app, clock, period: Period, providers: int = 3) -> list[int]:
    """``providers`` providers, each with a Stripe connected account and one booking paid
    through Stripe and completed in ``period``; the clock is left on the 1st of the next
    month.  Returns the providers' ids."""
    ids = []
    with app.app_context():
        for _ in range(providers):
            clock.set(local_time(period.first_day + timedelta(days=1), 10))
            provider = factories.provider()
            staff = factories.staff(provider)
            listing = factories.listing(provider)
            db.session.add(PayoutAccount(provider_id=provider.id, stripe_account_id=f"acct_fault_{provider.id}"))
            booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1, hour=9))
            services.accept(db.session, booking, staff, carer_id=carer_for(booking))
            record_success(db.session, live_payment(db.session, booking.id), payment_intent_id=f"pi_b{booking.id}")
            clock.set(booking.starts_at)
            services.check_in(db.session, booking, staff)
            clock.set(booking.ends_at - timedelta(minutes=5))
            services.complete(db.session, booking, staff)
            db.session.commit()
            ids.append(provider.id)
    clock.set(local_time(period.next().first_day, 3))
    return ids


def settlement_state(app, provider_ids: list[int], period: Period) -> dict[int, str]:
    """Each provider's settlement of the month: "absent", "settled" (with every part:
    its line, fee transaction and pending payout) or "paid" (its payout sent and posted
    once).  Anything in between fails here, and so does an unbalanced ledger."""
    states = {}
    with app.app_context():
        assert ledger_problems() == []
        for provider_id in provider_ids:
            settlement = db.session.scalar(sa.select(Settlement).where(
                Settlement.provider_id == provider_id, Settlement.period == period.key))
            booking_ids = sa.select(Booking.id).where(Booking.provider_id == provider_id)
            if settlement is None:
                assert count(SettlementLine, SettlementLine.booking_id.in_(booking_ids)) == 0
                assert count(Payout, Payout.provider_id == provider_id) == 0
                states[provider_id] = "absent"
                continue
            postings = dict(db.session.execute(
                sa.select(LedgerTransaction.kind, sa.func.count()).where(
                    LedgerTransaction.cause_type == "settlement", LedgerTransaction.cause_id == settlement.id)
                .group_by(LedgerTransaction.kind)).all())
            payout = db.session.scalar(sa.select(Payout).where(Payout.settlement_id == settlement.id))
            assert (settlement.booking_count, len(settlement.lines)) == (1, 1), provider_id
            assert (settlement.gross_fen, settlement.fee_fen, settlement.net_fen) == (12000, 600, 11400)
            assert payout is not None and payout.amount_fen == 11400, provider_id
            if payout.status.value == "paid":
                assert postings == {"platform_fee": 1, "payout": 1}, (provider_id, postings)
                states[provider_id] = "paid"
            else:
                assert postings == {"platform_fee": 1}, (provider_id, postings)
                states[provider_id] = "settled"
    return states


def transfers(stub) -> int:
    """Distinct Connect transfers the Stripe stub made (a repeated idempotency key makes none)."""
    return sum(1 for obj in stub.objects.values() if obj.get("object") == "transfer")


# --- evaluation runs -------------------------------------------------------------------------------


def supervised_providers(app) -> str:
    """Three long-serving providers with October's history (two of them late often enough
    for penalty reports), once per database; returns an official's phone (audited runs)."""
    with app.app_context():
        official = factories.official()
        for late in (6, 7, 1):
            _provider, listing, resident, _staff = serving_provider(days=400)
            supervision_history(listing, resident, 50, late=late)
        db.session.commit()
        return official.phone


def run_state(app, day: date) -> dict:
    """The runs stored as of ``day``, and for each what it holds; a run without all of its
    snapshots, reports and audit event fails here."""
    with app.app_context():
        at = as_of_day(day, rules.current(db.session))
        runs = list(db.session.scalars(sa.select(EvaluationRun).where(EvaluationRun.as_of == at)))
        for run in runs:
            assert count(ProviderSnapshot, ProviderSnapshot.run_id == run.id) == run.provider_count >= 3
            assert count(PenaltyReport, PenaltyReport.run_id == run.id) == run.report_count >= 2
            assert count(AuditEvent, AuditEvent.action == "supervision.run", AuditEvent.object_id == run.id) == 1
        return {"runs": len(runs), "reports": sum(r.report_count for r in runs)}
