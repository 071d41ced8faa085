"""The offline gateway: the resident pays on site or by bank transfer.

Nothing is called anywhere: the provider confirms receipt (billing.payments),
refunds are paid back by the provider, and payouts become a bank-transfer file.
"""

from __future__ import annotations

from billing.gateways.base import CheckoutStart, GatewayError


class OfflineGateway:
    name = "offline"

    def start_checkout(self, *, payment_id: int, booking_id: int, amount_fen: int, currency: str,
                       description: str, success_url: str, cancel_url: str) -> CheckoutStart:
        """No gateway page: the resident pays the provider directly."""
        return CheckoutStart(redirect_url=None)

    def refund(self, *, payment_intent_id: str | None, amount_fen: int, idempotency_key: str) -> str | None:
        """Recorded as paid back by the provider: nothing to call."""
        return None

    def transfer(self, *, amount_fen: int, currency: str, destination: str, idempotency_key: str,
                 description: str) -> str:
        raise GatewayError("the offline gateway pays providers by bank-transfer file", retryable=False)
