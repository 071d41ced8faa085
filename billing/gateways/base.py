"""The gateways' shared answer and error types (re-exported by :mod:`billing.gateways`)."""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(RuntimeError):
    """The gateway refused or could not be reached; the message says which."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class CheckoutStart:
    """Where to send the resident to pay: a gateway page, or None (pay on site)."""

    redirect_url: str | None
    checkout_session_id: str | None = None
    payment_intent_id: str | None = None
