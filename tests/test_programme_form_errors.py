"""Every form shows every problem at once: the programme form, the application, the subsidy
project and claim forms (the form's own checks and the service's, each on its field, listed
in the summary at the top)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.clock import today
from app.errors import Problems
from app.extensions import db
from app.models import CommunityTier
from billing.programmes import programmes
from billing.programmes.models import Enrolment, PurchaseProgramme
from billing.subsidies.models import SubsidyClaim, SubsidyProject
from tests import factories
from tests import subsidy_helpers as h
from tests.forms import submit
from tests.helpers import count
from tests.programme_helpers import open_programme, terms

pytestmark = pytest.mark.usefixtures("english_messages")


def _errors(response) -> tuple[dict[str, list[str]], list[str]]:
    """({field id: its messages}, the summary's items) of a re-rendered form page."""
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    fields: dict[str, list[str]] = {}
    for p in soup.select("main p.error"):
        fields.setdefault(p["id"].removesuffix("-error"), []).append(p.get_text(strip=True))
    summary = soup.select_one("main [data-error-summary]")
    return fields, [li.get_text(strip=True) for li in summary.select("li")] if summary else []


def _programme_form(community_id, category_id, **overrides):
    data = {
        "title": "居家养老上门服务", "service_content": "上门助洁", "categories": [str(category_id)],
        "start_date": "2026-11-01", "end_date": "2027-10-31", "quantity": "1000",
        "quality_requirements": "持证上岗", "unit_price": "80", "settlement_method": "按月结算",
        "performance_targets": "满意度 ≥ 90%", "breach_liability": "按次扣减", "budget": "100000",
        "allowance_per_month": "8", "communities": [str(community_id)], "min_age": "60",
    }
    data.update(overrides)
    return data


def test_the_service_names_every_bad_term_at_once():
    community = factories.community()
    with pytest.raises(Problems) as refused:
        programmes.validate_terms(db.session, terms([community.id], title="", budget_fen=-1, quantity=0,
                                                    end_date=terms([]).start_date.replace(year=2030)))
    assert {e.field for e in refused.value.errors} == {"title", "budget_fen", "quantity", "end_date"}


def test_the_programme_form_shows_the_forms_and_the_services_problems_together(client, auth):
    official, community = factories.official(), factories.community()
    category = factories.category("housekeeping")
    auth.login(official)
    response = submit(client, "/official/programmes/new", fields=_programme_form(
        community.id, category.id, title="", service_content="", end_date="2030-10-31", unit_price="8x",
        budget="-5", min_age="130", communities=[]))
    assert response.status_code == 422
    fields, summary = _errors(response)
    assert set(fields) == {"title", "service_content", "end_date", "unit_price", "budget", "min_age", "communities"}
    assert all(len(messages) == 1 for messages in fields.values())  # one message per fault, never twice
    assert fields["end_date"] == ["A purchase runs for at most 1 year (3 years only for a stable, continuous "
                                  "service): the term can end on 2027-10-31 at the latest."]
    assert fields["unit_price"] == ["Enter an amount in yuan, e.g. 120 or 99.50."]
    assert fields["budget"] == ["The budget cannot be negative."]
    assert len(summary) == 7 and summary[0].startswith("Title:")
    assert count(PurchaseProgramme) == 0
    fixed = submit(client, "/official/programmes/new", fields=_programme_form(community.id, category.id))
    assert fixed.status_code == 302


def test_the_application_shows_the_consent_and_every_rule_not_met(client, auth):
    programme, _award, _listing, _member, _official, community = open_programme()
    resident = factories.resident(community)
    auth.login(resident)
    url = f"/programmes/{programme.id}/apply"
    response = submit(client, url, action=url, fields={"birth_date": "1990-01-01"})  # no consent, too young, not alone
    assert response.status_code == 422
    fields, summary = _errors(response)
    assert set(fields) == {"consent", "birth_date", "lives_alone"}
    assert fields["birth_date"] == ["The resident is under 60."]
    assert len(summary) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment)) == 0


def test_the_project_form_shows_every_problem(client, auth):
    provider, staff, community = h.provider_with_staff(CommunityTier.GROWTH)
    auth.login(staff)
    response = submit(client, "/provider/subsidies/projects/new", fields={
        "community_id": "0", "project_type": "ev_charger_ac", "title": "", "planned_quantity": "-3",
        "planned_investment": "12.345"})
    assert response.status_code == 422
    fields, summary = _errors(response)
    assert set(fields) == {"community_id", "title", "planned_quantity", "planned_investment"}
    assert len(summary) == 4
    assert count(SubsidyProject) == 0


def test_the_claim_form_shows_every_problem_and_opens_at_the_upload_that_failed(client, auth, clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    clock.advance(days=20)
    auth.login(staff)
    url = f"/provider/subsidies/projects/{project.id}"
    response = submit(client, url, action=f"{url}/claim", fields={
        "accepted_on": "", "verified_quantity": "abc", "verified_investment": "120000", "requested": "-1",
        "acceptance_certificate": (h.PDF, "验收.pdf"), "invoices": [(h.PDF, "发票.pdf")],
        "photos": [(h.PDF, "现场.pdf")]})  # a PDF is no photo
    assert response.status_code == 422
    fields, summary = _errors(response)
    assert set(fields) == {"accepted_on", "verified_quantity", "requested", "photos"}
    assert fields["photos"] == ["A photo must be a JPEG or PNG image; 现场.pdf is a PDF."]
    assert len(summary) == 4
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    photo = soup.select_one("main input[name=photos]")
    assert photo["aria-invalid"] == "true" and photo["aria-describedby"] == "photos-error"
    assert soup.select_one(f"main [data-error-summary] a[href='#{photo['id']}']") is not None
    assert count(SubsidyClaim) == 0
    # Only the upload wrong: the page opens there (the first field at fault).
    response = submit(client, url, action=f"{url}/claim", fields={
        "accepted_on": today().isoformat(), "verified_quantity": "70", "verified_investment": "120000",
        "requested": "", "acceptance_certificate": (h.PDF, "验收.pdf"), "invoices": [(b"MZ\x90\x00", "发票.exe")],
        "photos": [(h.PNG, "现场.png")]})
    fields, summary = _errors(response)
    assert response.status_code == 422 and set(fields) == {"invoices"} and len(summary) == 1
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one(
        "main [aria-invalid=true]")["name"] == "invoices"
