"""The ledger, gateways, payments, settlements, purchase programmes and subsidy claims.

:func:`init_app` registers everything this domain has with the shell's registries
(app/registry.py) and calls the ``init_app`` of :mod:`billing.programmes` and
:mod:`billing.subsidies`.  Billing is the highest layer: it may import ratings and
providers, and it fills the slots their pages offer (``linli_slot``).
"""

from __future__ import annotations


def config_problems(env) -> list[str]:
    """Production configuration check (app/config.py): the gateway's keys, by billing's rules."""
    from app.config import ConfigError, gateway_settings
    from billing.gateways import build_gateway

    try:
        build_gateway(gateway_settings(env))
    except ConfigError as error:
        return [str(error)]
    return []


def payout_account_set(provider) -> bool:
    """Whether the provider's payouts have somewhere to go (a bank account or a connected
    Stripe account): the fact the provider dashboard's checklist asks (providers/checklist.py)."""
    from app.extensions import db
    from billing.payment_models import PayoutAccount

    account = db.session.get(PayoutAccount, provider.id)
    return account is not None and bool(account.stripe_account_id or account.bank_account_no)


def init_app(app) -> None:
    """Build the gateway (ConfigError on bad keys), then register receivers, pages, API,
    template globals and slots, jobs and commands."""
    from flask import render_template

    from app.clock import now
    from app.extensions import db
    from app.registry import registry
    from billing import cancel_costs, jobs, programmes, receivers, subsidies, supervision_receivers
    from billing.funding import registry as funding_rules
    from billing.gateways import build_gateway, gateway_label
    from billing.policy_views import api_blp as payment_policy_blp
    from billing.policy_views import bp as policy_bp
    from billing.policy_views import fee_policy_of, payment_policy_for
    from billing.settlement_views import bp as settlements_bp
    from billing.views import bp as billing_bp
    from billing.funding import funding_of
    from billing.payment_shown import payment_shown
    from billing.views import masked_phone, payment_for
    from billing.webhooks import bp as webhooks_bp
    from providers.bookings.services import booking_changed

    app.extensions["linli.gateway"] = build_gateway(app.config)
    app.extensions["linli.refund_sender"] = jobs.send_refunds  # refunds sent after their commit
    found = registry(app)
    found.fact("billing.payout_account_set", payout_account_set)
    # supervision_receivers: the table of programme awards ended by a removal.
    found.models("billing.models", "billing.payment_models", "billing.supervision_receivers")
    funding_rules.register(receivers.RESIDENT_PAID)  # programmes.init_app registers its own
    found.receiver(booking_changed, receivers.on_booking_changed)
    supervision_receivers.connect(found)
    found.pages(settlements_bp, billing_bp, webhooks_bp, policy_bp)
    found.api(payment_policy_blp)
    found.template_global("linli_payment_for", payment_for)
    found.template_global("gateway_label", gateway_label)
    found.template_global("linli_payment_policy_for", payment_policy_for)
    found.template_global("linli_fee_policy_of", fee_policy_of)
    found.template_global("linli_payment_shown", payment_shown)
    found.template_global("linli_funding_of", lambda booking: funding_of(booking).kind.value)
    found.template_global("linli_masked_phone", masked_phone)
    # A booking's page (resident and provider) shows its payment; a provider's listing
    # card shows the listing's payment policy.
    # The resident's booking page: how to reach the provider while it is accepted or in service.
    found.slot("bookings.booking.after", lambda booking: render_template("billing/_provider_contact.html",
                                                                         booking=booking))
    found.slot("bookings.booking.after", lambda booking: render_template("billing/_payment_status.html",
                                                                         booking=booking))
    # The price of a booking on the resident's pages: who pays, when a programme does.
    found.slot("bookings.booking.price", lambda booking: render_template("billing/_price.html", booking=booking))
    found.slot("providers.listing_card.after", lambda listing: render_template(
        "billing/_listing_policy_link.html", listing=listing))
    # The booking form shows the terms the booking will be made under (fixed when it is).
    found.slot("bookings.book.terms", lambda listing: render_template(
        "billing/_booking_terms.html", listing=listing))
    # What cancelling costs, stated by the booking pages (providers.bookings.cancellation).
    found.fact("booking.cancel_cost", lambda booking: cancel_costs.cancel_cost(db.session, booking, now()))
    found.fact("listing.late_cancel_fee", lambda listing: cancel_costs.listing_late_fee(db.session, listing))
    found.jobs_from(jobs.JOBS)
    found.command(jobs.settle_command)
    programmes.init_app(app)
    subsidies.init_app(app)
