"""The Stripe gateway (stripe-python's ``StripeClient``).

Retries are on (``max_network_retries=2``) and every creating call carries a
deterministic idempotency key (``checkout:<payment id>``, ``refund:<refund id>``,
``payout:<payout id>``), so a retry — by the client or by us — never repeats a
charge, refund or transfer.  ``STRIPE_API_BASE`` points the client at
localstripe or a stub in tests.  Objects are not dicts in stripe-python 15+:
attributes are read, never ``obj["key"]``.
"""

from __future__ import annotations

import stripe

from billing.gateways.base import CheckoutStart, GatewayError


class StripeGateway:
    name = "stripe"

    def __init__(self, *, secret_key: str, api_base: str | None = None, currency: str = "cny",
                 payment_methods: tuple[str, ...] = ("card", "alipay", "wechat_pay")):
        options = {"max_network_retries": 2}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self.client = stripe.StripeClient(secret_key, **options)
        self.currency = currency
        self.payment_methods = tuple(payment_methods)

    def start_checkout(self, *, payment_id: int, booking_id: int, amount_fen: int, currency: str,
                       description: str, success_url: str, cancel_url: str) -> CheckoutStart:
        """Create a Checkout Session (amount in fen); the payment is recorded from the webhook."""
        metadata = {"payment_id": str(payment_id), "booking_id": str(booking_id)}
        params = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": currency, "unit_amount": amount_fen, "product_data": {"name": description[:250]},
            }}],
            "payment_method_types": list(self.payment_methods),
            "client_reference_id": str(payment_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if "wechat_pay" in self.payment_methods:
            params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        session = self._call(self.client.v1.checkout.sessions.create, params, f"checkout:{payment_id}")
        return CheckoutStart(redirect_url=session.url, checkout_session_id=session.id,
                             payment_intent_id=getattr(session, "payment_intent", None))

    def refund(self, *, payment_intent_id: str | None, amount_fen: int, idempotency_key: str) -> str | None:
        """Refund part or all of a payment intent through the Refund API; return the refund id."""
        if not payment_intent_id:
            raise GatewayError("no payment intent to refund", retryable=False)
        refund = self._call(self.client.v1.refunds.create,
                            {"payment_intent": payment_intent_id, "amount": amount_fen}, idempotency_key)
        return refund.id

    def refund_status(self, refund_id: str) -> str:
        try:
            return self.client.v1.refunds.retrieve(refund_id).status
        except stripe.StripeError as error:
            raise GatewayError(f"Stripe: {error.user_message or error}") from error

    def transfer(self, *, amount_fen: int, currency: str, destination: str, idempotency_key: str,
                 description: str) -> str:
        """A Connect transfer to the provider's connected account; return the transfer id."""
        transfer = self._call(self.client.v1.transfers.create, {
            "amount": amount_fen, "currency": currency, "destination": destination,
            "description": description[:300],
        }, idempotency_key)
        return transfer.id

    @staticmethod
    def _call(method, params: dict, idempotency_key: str):
        try:
            return method(params=params, options={"idempotency_key": idempotency_key})
        except stripe.StripeError as error:
            status = getattr(error, "http_status", None)
            retryable = status is None or status >= 500 or status in (409, 429)
            raise GatewayError(f"Stripe: {error.user_message or error}", retryable=retryable) from error
