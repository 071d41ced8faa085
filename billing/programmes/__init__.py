"""Government purchase of services (政府购买服务, MOF Order No. 102).

An official sets up a :class:`~billing.programmes.models.PurchaseProgramme`
with every contract term Art. 23 requires and a budget; awards it to active
providers at a contract price and quota; enrols eligible residents, each with a
monthly allowance of visits.  An enrolled resident books a covered listing
"with my entitlement": no payment; the budget is reserved on acceptance,
released when the booking closes unserved, consumed on completion (ledger
accounts ``programme_budget:<id>`` / ``programme_reserved:<id>`` /
``programme_consumed:<id>``), and settlement pays the provider the contract
price from the programme, without platform fee.

Modules: models, programmes (contract terms, states, awards), eligibility
(resident profiles, rules, enrolment, CSV), entitlements (booking with an
entitlement and what booking changes do to it), settlement (the programme
settlement source), funding (both, registered as the programme funding's rules),
budget (figures, chart, burn rate), topups (adding to an open budget), jobs
(closing programmes at the end of their term), provider_awards / provider_views
(a provider's own awards), views / api / forms, demo.
"""

from __future__ import annotations


def register_programmes(app) -> None:
    """Register the programme pages (the JSON API is registered by app.api)."""
    from app.extensions import db
    # Routes on ``bp`` (provider_views, resident_views) and the jobs' notification texts.
    from billing.programmes import jobs, provider_views, resident_views  # noqa: F401
    from billing.funding import registry
    from billing.programmes.entitlements import use_of
    from billing.programmes.funding import RULES
    from billing.programmes.views import bp

    registry.register(RULES)  # billing dispatches programme-funded bookings here
    app.register_blueprint(bp)
    app.jinja_env.globals["linli_entitlement_for"] = lambda booking: use_of(db.session, booking.id)
    app.jinja_env.globals["linli_entitlement_covers"] = entitlement_link


def entitlement_link(listing) -> str | None:
    """For the listing page: where the logged-in resident books this listing with an
    entitlement, or None when no entitlement of theirs covers it."""
    from flask import url_for
    from flask_login import current_user

    from app.errors import LinliError
    from app.extensions import db
    from billing.programmes.entitlements import find_entitlement

    if not (current_user.is_authenticated and current_user.is_resident):
        return None
    try:
        find_entitlement(db.session, current_user._get_current_object(), listing, None)
    except LinliError:
        return None
    return url_for("programmes.book", listing_id=listing.id)
