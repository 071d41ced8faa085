"""Payment gateways behind one interface.

Configuration picks the gateway (``LINLI_PAYMENT_GATEWAY``: ``offline``, the
embedded default that needs no keys, or ``stripe``).  A direct WeChat Pay or
Alipay gateway would be one more implementation of :class:`Gateway`.
"""

from __future__ import annotations

from typing import Protocol

from flask import current_app
from flask_babel import lazy_gettext as _l

# The answer and error types live in .base, so the implementations import them without
# importing this package back (no import cycle).
from billing.gateways.base import CheckoutStart, GatewayError  # noqa: F401


# What people read for a gateway's name (``payment.gateway``, ``gateway_clearing:<name>``).
GATEWAY_LABELS = {"offline": _l("On site or by bank transfer"), "stripe": _l("Online (Stripe)")}


def gateway_label(name: str) -> str:
    return str(GATEWAY_LABELS[name]) if name in GATEWAY_LABELS else name


class Gateway(Protocol):
    name: str

    def start_checkout(self, *, payment_id: int, booking_id: int, amount_fen: int, currency: str,
                       description: str, success_url: str, cancel_url: str) -> CheckoutStart: ...

    def refund(self, *, payment_intent_id: str | None, amount_fen: int, idempotency_key: str) -> str | None:
        """Refund at the gateway; return its reference (None when there is nothing to call)."""

    def transfer(self, *, amount_fen: int, currency: str, destination: str, idempotency_key: str,
                 description: str) -> str:
        """Pay a provider's connected account; return the transfer id."""


def get_gateway() -> Gateway:
    """The configured gateway (built once per app, at start-up)."""
    return current_app.extensions["linli.gateway"]


def build_gateway(config) -> Gateway:
    """The gateway named by ``LINLI_PAYMENT_GATEWAY``; a clear ConfigError when its keys are wrong."""
    from app.config import ConfigError

    name = config.get("LINLI_PAYMENT_GATEWAY") or "offline"
    if name == "offline":
        from billing.gateways.offline import OfflineGateway

        return OfflineGateway()
    if name != "stripe":
        raise ConfigError(f"LINLI_PAYMENT_GATEWAY must be offline or stripe, got {name!r}")
    secret = config.get("STRIPE_SECRET_KEY") or ""
    if not secret.startswith(("sk_", "rk_")):
        raise ConfigError("STRIPE_SECRET_KEY is missing or is not a Stripe secret key (sk_… or rk_…)")
    if not (config.get("STRIPE_WEBHOOK_SECRET") or "").startswith("whsec_"):
        raise ConfigError("STRIPE_WEBHOOK_SECRET is missing or is not a signing secret (whsec_…)")
    currency = (config.get("STRIPE_CURRENCY") or "cny").lower()
    if len(currency) != 3 or not currency.isalpha():
        raise ConfigError(f"STRIPE_CURRENCY must be a three-letter currency code, got {currency!r}")
    methods = tuple(m for m in config.get("STRIPE_PAYMENT_METHODS", ()) if m)
    unknown = set(methods) - {"card", "alipay", "wechat_pay"}
    if not methods or unknown:
        raise ConfigError("STRIPE_PAYMENT_METHODS must list some of card, alipay, wechat_pay")
    from billing.gateways.stripe_gateway import StripeGateway

    return StripeGateway(secret_key=secret, api_base=config.get("STRIPE_API_BASE") or None,
                         currency=currency, payment_methods=methods)
