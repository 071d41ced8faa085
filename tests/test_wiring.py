"""Domains register themselves (app/registry.py); templates keep the layers; a fine is billing's."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from jinja2 import nodes

from app.auth.services import issue_token
from app.extensions import db
from app.registry import DOMAINS, registry
from billing import supervision_receivers
from ratings.supervision import review, sanctions
from ratings.supervision.models import ReportStatus, Sanction
from tests import factories
from tests.rating_helpers import audit_events, completed_booking
from tests.sanction_helpers import report
from tests.supervision_helpers import local

ROOT = Path(__file__).resolve().parent.parent
LAYER = {"app": 0, "providers": 1, "ratings": 2, "billing": 3}
PACKAGES = ("providers", "providers.bookings", "ratings", "ratings.supervision",
            "billing", "billing.programmes", "billing.subsidies")


def test_the_shell_walks_one_list_of_domains_in_layer_order():
    assert DOMAINS == ("providers", "ratings", "billing")
    for name in PACKAGES:
        assert callable(importlib.import_module(name).init_app), name


def test_every_domain_registers_its_pages_api_jobs_and_notifications(app):
    found = registry(app)
    owners = {bp.import_name.split(".")[0] for bp in app.blueprints.values()}
    assert {"app", "providers", "ratings", "billing"} <= owners
    api_owners = {bp.import_name.split(".")[0] for bp in found.api_blueprints}
    assert api_owners == {"app", "providers", "ratings", "billing"}
    jobs = [job.fn.__name__ for job in found.jobs]
    assert len(jobs) == len(set(jobs))
    assert {"expire_requests", "auto_confirm", "monthly_evaluation", "early_warning", "apply_due_sanctions",
            "settle_previous_month", "send_payouts", "submit_refunds", "close_ended_programmes",
            "disburse_subsidies", "release_unverified_visits"} <= set(jobs)
    assert {job.fn.__module__.split(".")[0] for job in found.jobs} == {"app", "providers", "ratings", "billing"}
    from app.notifications import MESSAGES

    for prefix in ("booking.", "rating.", "complaint.", "supervision.", "provider.", "programme.", "subsidy."):
        assert any(kind.startswith(prefix) for kind in MESSAGES), prefix
    assert {"settle", "evaluate", "scheduler", "demo-data"} <= set(app.cli.commands)


def test_a_job_id_is_registered_once(app):
    found = registry(app)
    with pytest.raises(ValueError, match="registered twice"):
        found.job(found.jobs[0].fn, trigger="interval", minutes=1)


def test_a_slot_renders_its_fillers_in_order_and_nothing_without_one(app):
    found = registry(app)
    found.slot("test.slot", lambda obj: f"<b>{obj}</b>")
    found.slot("test.slot", lambda obj: "!")
    try:
        assert str(found.render_slot("test.slot", 7)) == "<b>7</b>!"
        assert str(found.render_slot("test.nobody", 7)) == ""
    finally:
        del found.slots["test.slot"]


# --- templates keep the layers ----------------------------------------------------------

def _template_files():
    for domain in LAYER:
        for path in sorted((ROOT / domain).rglob("templates/**/*.html")):
            yield domain, path


def _owner(app, name: str) -> str:
    _source, filename, _uptodate = app.jinja_env.loader.get_source(app.jinja_env, name)
    return Path(filename).resolve().relative_to(ROOT).parts[0]


def test_no_template_includes_a_higher_domains_template_or_uses_its_globals(app):
    """A lower domain offers a slot (``linli_slot``); it never names a higher domain's partial."""
    env = app.jinja_env
    owners_of_globals = {name: getattr(value, "__module__", "app").split(".")[0]
                         for name, value in env.globals.items()}
    wrong = []
    for domain, path in _template_files():
        tree = env.parse(path.read_text(encoding="utf-8"))
        for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            if isinstance(node.template, nodes.Const):
                owner = _owner(app, node.template.value)
                if LAYER.get(owner, 0) > LAYER[domain]:
                    wrong.append(f"{path.relative_to(ROOT)} includes {node.template.value} ({owner})")
        for node in tree.find_all(nodes.Name):
            owner = owners_of_globals.get(node.name)
            if owner in LAYER and LAYER[owner] > LAYER[domain]:
                wrong.append(f"{path.relative_to(ROOT)} uses {node.name} ({owner})")
    assert wrong == []


def test_the_checker_sees_an_include_of_a_higher_domain(app):
    tree = app.jinja_env.parse('{% include "billing/_payment_status.html" %}')
    [include] = tree.find_all(nodes.Include)
    assert _owner(app, include.template.value) == "billing"


# --- a sanction's money effect is billing's --------------------------------------------

@pytest.fixture
def fined(clock):
    """A provider with October's gross of ¥120, fined in November (5 % = ¥6)."""
    listing = factories.listing(price_fen=12000)
    staff = factories.staff(listing.provider)
    clock.set(local(2026, 10, 5, 8))
    completed_booking(clock, listing, staff=staff)
    clock.set(local(2026, 11, 2, 10))
    item = report(listing.provider, Sanction.FINE)
    review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    found = review.review_of(db.session, item.id)
    clock.set(found.appeal_deadline + timedelta(minutes=1))
    return item, found, staff


def _penalties() -> int:
    return db.session.scalar(sa.text("select count(*) from ledger_transaction where kind = 'penalty'"))


def test_billing_posts_and_stores_the_fine_when_ratings_announces_it(fined, client):
    item, found, staff = fined
    assert sanctions.apply_due_sanctions(db.session) == 1
    db.session.commit()
    assert item.status == ReportStatus.EFFECTIVE
    assert _penalties() == 1
    assert supervision_receivers.fine_of(found) == 600
    assert found.fine_fen is None  # ratings stores no amount
    [posted] = audit_events("penalty_report.fine_posted", item.id)
    assert posted.after["fine_fen"] == 600
    effective = audit_events("penalty_report.effective", item.id)[0]
    assert "fine_fen" not in effective.after
    # The provider's appeal page and the API show billing's figure.
    _, raw = issue_token(db.session, staff, "test")
    db.session.commit()
    body = client.get(f"/api/v1/supervision/reports/{item.id}/review",
                      headers={"Authorization": f"Bearer {raw}"}).get_json()
    assert body["review"]["fine_fen"] == 600


def test_without_billing_a_sanction_still_takes_effect_and_no_fine_is_invented(fined):
    item, found, _staff = fined
    sanctions.sanction_effective.disconnect(supervision_receivers.on_sanction_effective)
    try:
        assert sanctions.apply_due_sanctions(db.session) == 1
        db.session.commit()
    finally:
        registry().receiver(sanctions.sanction_effective, supervision_receivers.on_sanction_effective)
    assert item.status == ReportStatus.EFFECTIVE
    assert _penalties() == 0
    assert found.fine_fen is None
    assert audit_events("penalty_report.fine_posted", item.id) == []


def test_the_review_page_shows_the_fine_through_billings_slot(fined, en, auth):
    item, _found, staff = fined
    sanctions.apply_due_sanctions(db.session)
    db.session.commit()
    auth.login(staff)
    page = en.get(f"/provider/supervision/reports/{item.id}/appeal").get_data(as_text=True)
    assert re.search(r'<dt>Fine</dt><dd id="review-fine">[^<]*6\.00</dd>', page), page
