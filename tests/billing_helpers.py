"""Helpers for the billing tests: a booking at each stage, and the Stripe gateway in place."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time

from app.extensions import db
from billing.ledger import balance, gateway_code, is_balanced, provider_payable_code  # noqa: F401
from billing.payment_models import PayAt, PaymentPolicy
from providers.bookings import services
from tests import factories
from tests.carer_helpers import carer_for

WEBHOOK_SECRET = "whsec_test_linli_secret"


def provider_and_staff():
    provider = factories.provider()
    member = factories.staff(provider)
    return provider, member


def accepted_booking(pay_at: PayAt | None = None, fee_percent: int | None = None, days_ahead: int = 3):
    """A booking accepted by its provider (so a payment is due by default); returns (booking, staff)."""
    provider, member = provider_and_staff()
    listing = factories.listing(provider)
    if pay_at is not None or fee_percent is not None:
        db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=pay_at or PayAt.ACCEPTANCE,
                                     late_cancel_fee_percent=20 if fee_percent is None else fee_percent))
        db.session.commit()
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=days_ahead))
    if booking.status.value == "requested":
        services.accept(db.session, booking, member, carer_id=carer_for(booking))
        db.session.commit()
    return booking, member


@contextlib.contextmanager
def gateway(app, gw, **config):
    """Use ``gw`` as the app's gateway (and these config values) for a block."""
    old_gw = app.extensions["linli.gateway"]
    old = {key: app.config.get(key) for key in config}
    app.extensions["linli.gateway"] = gw
    app.config.update(config)
    try:
        yield gw
    finally:
        app.extensions["linli.gateway"] = old_gw
        app.config.update(old)


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header for ``payload`` (Stripe's scheme: HMAC-SHA256 of "t.body")."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def event(event_id: str, kind: str, obj: dict) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}).encode()


def post_event(client, body: bytes, signature: str | None = None):
    return client.post("/billing/stripe/webhook", data=body, content_type="application/json",
                       headers={"Stripe-Signature": signature if signature is not None else sign(body)})
