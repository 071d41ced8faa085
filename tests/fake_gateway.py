"""One fake payment gateway for tests, implementing ``billing.gateways.Gateway``.

It answers like a gateway that always succeeds and records every call, so a
test can say "the configured gateway is Stripe" without a network or a Stripe
stub, and can check what was (or was not) called:

    gateway = use_gateway(app, monkeypatch, "stripe")
    ...
    assert gateway.calls == []

``tests/test_fake_gateway.py`` keeps its methods' signatures equal to the
Protocol's. Tests of the real Stripe gateway use ``tests/stripe_stub.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.gateways import CheckoutStart


@dataclass
class FakeGateway:
    name: str = "stripe"
    calls: list[tuple[str, dict]] = field(default_factory=list)

    def start_checkout(self, *, payment_id: int, booking_id: int, amount_fen: int, currency: str,
                       description: str, success_url: str, cancel_url: str) -> CheckoutStart:
        self.calls.append(("start_checkout", {"payment_id": payment_id, "booking_id": booking_id,
                                              "amount_fen": amount_fen, "currency": currency}))
        return CheckoutStart(redirect_url=f"https://pay.example.test/checkout/{payment_id}",
                             checkout_session_id=f"cs_fake_{payment_id}")

    def refund(self, *, payment_intent_id: str | None, amount_fen: int, idempotency_key: str) -> str | None:
        self.calls.append(("refund", {"payment_intent_id": payment_intent_id, "amount_fen": amount_fen,
                                      "idempotency_key": idempotency_key}))
        return f"re_fake_{len(self.calls)}"

    def transfer(self, *, amount_fen: int, currency: str, destination: str, idempotency_key: str,
                 description: str) -> str:
        self.calls.append(("transfer", {"amount_fen": amount_fen, "destination": destination,
                                        "idempotency_key": idempotency_key}))
        return f"tr_fake_{len(self.calls)}"


def use_gateway(app, monkeypatch, name: str = "stripe") -> FakeGateway:
    """Make a FakeGateway called ``name`` the app's gateway for this test."""
    gateway = FakeGateway(name)
    monkeypatch.setitem(app.extensions, "linli.gateway", gateway)
    return gateway
