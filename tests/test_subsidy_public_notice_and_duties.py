"""The public notice is readable without logging in (nothing personal on it); an official is
never offered a form they may not submit (the four-eyes rules live in one function each)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.errors import Forbidden
from app.extensions import db
from billing.subsidies import review
from billing.subsidies.models import ClaimStatus, SubsidyClaim
from tests import factories
from tests import subsidy_helpers as h
from tests.forms import submit

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def noticed(clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    district, city = factories.official(), factories.official()
    review.verify(db.session, claim.id, official=district)
    review.approve(db.session, claim.id, official=city)
    db.session.commit()
    return {"claim": claim, "community": community, "staff": staff, "district": district, "city": city,
            "provider": provider}


def test_anyone_reads_the_notices_without_logging_in(client, noticed):
    claim, staff, district = noticed["claim"], noticed["staff"], noticed["district"]
    listing = client.get("/subsidies/notices")
    assert listing.status_code == 200
    card = BeautifulSoup(listing.get_data(as_text=True), "html.parser").find(id=f"notice-{claim.id}")
    assert claim.project.title in card.get_text() and noticed["provider"].name in card.get_text()
    response = client.get(f"/subsidies/notices/{claim.id}")
    assert response.status_code == 200
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    main = page.find("main")
    facts = main.find(id="notice-facts").get_text(" ", strip=True)
    assert claim.project.title in facts and noticed["provider"].name in facts
    assert noticed["community"].name in facts and "¥" in main.find(id="notice-amount").get_text()
    assert "–" in main.find(id="notice-period").get_text()  # from the approval to the objection deadline
    assert "may object until" in main.find(id="objection-rule").get_text()
    login = main.find(id="objection-login").find("a")
    assert login["href"].startswith("/login") and f"/subsidies/notices/{claim.id}" in login["href"]
    assert main.find("form") is None  # objecting needs a log-in
    text = main.get_text(" ", strip=True)
    for private in (staff.name, staff.phone, district.name, district.phone, "验收证书.pdf", "发票.pdf"):
        assert private not in text
    assert "/subsidies/evidence/" not in str(main)


def test_objecting_still_needs_a_resident_of_the_community(client, auth, noticed):
    claim, community = noticed["claim"], noticed["community"]
    notice = f"/subsidies/notices/{claim.id}"
    # The notice offers a visitor no objection form (a log-in link instead): the post is raw on purpose.
    assert client.post(f"{notice}/object", data={"text": "设备未通电"}).status_code in (302, 401)
    db.session.expire_all()
    assert db.session.get(SubsidyClaim, claim.id).status == ClaimStatus.NOTICE
    auth.login(factories.resident(factories.community()))  # another community's resident: told why
    page = BeautifulSoup(client.get(notice).get_data(as_text=True), "html.parser")
    assert "Only residents of" in page.find(id="objection-refusal").get_text()
    auth.logout()
    auth.login(factories.resident(community))
    assert submit(client, notice, action=f"{notice}/object", fields={"text": "设备未通电"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(SubsidyClaim, claim.id).status == ClaimStatus.OBJECTED


def test_the_verifier_is_not_offered_the_city_step_and_another_official_submits_it(client, auth, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), quantity="10",
                   investment_fen=10_000_000, clock=clock)
    district, city = factories.official(), factories.official()
    review.verify(db.session, claim.id, official=district)
    db.session.commit()
    page_url = f"/official/subsidies/claims/{claim.id}"
    auth.login(district)
    page = BeautifulSoup(client.get(page_url).get_data(as_text=True), "html.parser")
    assert page.find(id="approve-form") is None and page.find(id="reject-form") is None
    assert review.city_step_refusal(claim, district) is not None
    assert page.find(id="city-step-not-yours").get_text(strip=True) == (
        "You verified this claim at the district step: a different official must decide the city step.")
    with pytest.raises(Forbidden):  # the service applies the same rule
        review.approve(db.session, claim.id, official=district)
    db.session.rollback()
    auth.logout()
    auth.login(city)
    page = BeautifulSoup(client.get(page_url).get_data(as_text=True), "html.parser")
    assert page.find(id="approve-form") is not None and page.find(id="city-step-not-yours") is None
    response = submit(client, page_url, action=f"{page_url}/approve", fields={"amount": "", "reason": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SubsidyClaim, claim.id).status == ClaimStatus.NOTICE


def test_the_verifier_is_not_offered_the_objection_decision(client, auth, noticed):
    claim, district, city = noticed["claim"], noticed["district"], noticed["city"]
    objection = review.object_to(db.session, claim.id, user=factories.resident(noticed["community"]), text="虚报")
    db.session.commit()
    page_url = f"/official/subsidies/claims/{claim.id}"
    auth.login(district)
    page = BeautifulSoup(client.get(page_url).get_data(as_text=True), "html.parser")
    assert page.find(id=f"resolve-form-{objection.id}") is None
    assert review.objection_decision_refusal(claim, district) is not None
    assert page.find(id="objections-not-yours").get_text(strip=True) == (
        "You verified this claim at the district step: a different official must decide its objections.")
    auth.logout()
    auth.login(city)
    assert review.objection_decision_refusal(claim, city) is None
    response = submit(client, page_url, action=f"/official/subsidies/objections/{objection.id}/resolve",
                      fields={"outcome": "dismissed", "note": "已现场核实"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SubsidyClaim, claim.id).status == ClaimStatus.NOTICE


def test_the_requested_amount_reads_as_one_label_and_its_value(client, auth, clock):
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    auth.login(staff)
    page = BeautifulSoup(client.get(f"/provider/subsidies/claims/{claim.id}").get_data(as_text=True), "html.parser")
    value = page.find(id="requested")
    assert value.find_previous_sibling("dt").get_text(strip=True) == "Amount requested"
    assert value.get_text(strip=True) == "None stated: the claim is for the eligible amount"
    assert db.session.scalar(sa.select(SubsidyClaim.requested_fen).where(SubsidyClaim.id == claim.id)) is None
