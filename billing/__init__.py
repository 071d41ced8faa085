"""The ledger, gateways, payments, settlements, purchase programmes and subsidy claims."""

from __future__ import annotations


def register_billing(app) -> None:
    """Build the gateway (ConfigError on bad keys), connect receivers, register blueprints."""
    from billing import receivers
    from billing.gateways import build_gateway
    from billing.policy_views import register_policy
    from billing.views import bp as billing_bp
    from billing.views import payment_for
    from billing.webhooks import bp as webhooks_bp

    app.extensions["linli.gateway"] = build_gateway(app.config)
    receivers.connect()
    from billing import supervision_receivers

    supervision_receivers.connect()
    app.register_blueprint(billing_bp)
    app.register_blueprint(webhooks_bp)
    app.jinja_env.globals["linli_payment_for"] = payment_for
    from billing.programmes import register_programmes

    register_programmes(app)
    register_policy(app)
