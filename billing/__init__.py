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


def init_app(app) -> None:
    """Build the gateway (ConfigError on bad keys), then register receivers, pages, API,
    template globals and slots, jobs and commands."""
    from flask import render_template

    from app.registry import registry
    from billing import jobs, programmes, receivers, subsidies, supervision_receivers
    from billing.funding import registry as funding_rules
    from billing.gateways import build_gateway, gateway_label
    from billing.policy_views import api_blp as payment_policy_blp
    from billing.policy_views import bp as policy_bp
    from billing.policy_views import fee_policy_of, payment_policy_for
    from billing.settlement_views import bp as settlements_bp
    from billing.views import bp as billing_bp
    from billing.views import payment_for
    from billing.webhooks import bp as webhooks_bp
    from providers.bookings.services import booking_changed

    app.extensions["linli.gateway"] = build_gateway(app.config)
    app.extensions["linli.refund_sender"] = jobs.send_refunds  # refunds sent after their commit
    found = registry(app)
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
    # A booking's page (resident and provider) shows its payment; a provider's listing
    # card shows the listing's payment policy.
    found.slot("bookings.booking.after", lambda booking: render_template("billing/_payment_status.html",
                                                                         booking=booking))
    found.slot("providers.listing_card.after", lambda listing: render_template(
        "billing/_listing_policy_link.html", listing=listing))
    # The booking form shows the terms the booking will be made under (fixed when it is).
    found.slot("bookings.book.terms", lambda listing: render_template(
        "billing/_booking_terms.html", listing=listing))
    found.jobs_from(jobs.JOBS)
    found.command(jobs.settle_command)
    programmes.init_app(app)
    subsidies.init_app(app)
