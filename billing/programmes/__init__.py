"""Government purchase of services (政府购买服务, MOF Order No. 102).

An official sets up a :class:`~billing.programmes.models.PurchaseProgramme`
with every contract term Art. 23 requires and a budget; awards it to active
providers at a contract price and quota; enrols eligible residents, each with a
monthly allowance of visits.  An enrolled resident books a covered listing
"with my entitlement": no payment; the budget is reserved on acceptance,
released when the booking closes unserved, consumed when the served visit is
verified or cleared (visit_money: never on the provider's word alone; ledger
accounts ``programme_budget:<id>`` / ``programme_reserved:<id>`` /
``programme_consumed:<id>``), and settlement pays the provider the contract
price from the programme, without platform fee.

Modules: models, programmes (contract terms, states, awards), eligibility
(resident profiles, rules, enrolment, CSV), entitlements (booking with an
entitlement and what booking changes do to it), settlement (the programme
settlement source), funding (both, registered as the programme funding's rules),
visit_money (verified visits pay; the deadline that releases unverified ones unpaid;
"not served" withholds or claws back), pending (the statement's pending, released and
clawed-back lines), budget (figures, chart, burn rate), topups (adding to an open budget), jobs
(closing programmes at the end of their term), provider_awards / provider_views
(a provider's own awards), views / api / forms, demo.
"""

from __future__ import annotations


def init_app(app) -> None:
    """Register the programme pages, API, jobs, notifications, template globals and slots."""
    from flask import render_template

    from app.extensions import db
    from app.registry import registry
    # Routes on ``bp`` (provider_views, resident_views).
    from billing.programmes import api, eligibility, jobs, provider_views, resident_views, visit_money  # noqa: F401
    from billing.programmes.demo import load_programme_demo
    from billing.programmes.visit_demo import load_visit_demo
    from billing.funding import registry as funding_rules
    from billing.programmes.entitlements import use_of
    from billing.programmes.funding import RULES
    from billing.programmes.views import bp

    funding_rules.register(RULES)  # billing dispatches programme-funded bookings here
    found = registry(app)
    found.models("billing.programmes.models")
    found.notifications(eligibility.NOTIFICATIONS, jobs.NOTIFICATIONS, visit_money.NOTIFICATIONS)
    visit_money.connect()
    found.pages(bp)
    found.api(*api.blueprints())
    found.jobs_from(jobs.JOBS)
    from billing.programmes.budget_alerts import send_budget_alerts

    found.job(send_budget_alerts, trigger="interval", hours=1)  # the outbox sends them (app/delivery)
    found.template_global("linli_entitlement_for", lambda booking: use_of(db.session, booking.id))
    found.template_global("linli_entitlement_covers", entitlement_link)
    # The listing page offers a slot beside its Book button.
    found.slot("providers.listing.book", lambda listing: render_template(
        "programmes/_book_with_entitlement.html", listing=listing))
    found.demo("programmes", load_programme_demo)
    found.demo("visits", load_visit_demo)


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
