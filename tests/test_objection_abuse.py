"""Objection spam and separation of duties (issue 12, items 4 and 5): each abuse is tried
through the service, the page (submitting the form the page rendered) and the API, and
is refused with its message and nothing changed.

- only residents of the project's community object, once per person and claim;
- officials are told once per claim and pause, not once per objection;
- an official dismisses an objection as abusive (with the reason, audited): the notice
  resumes with the time it had left and the objector is told;
- the official who verified the claim at the district step decides none of its objections.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from flask_babel import force_locale

from app.audit import AuditEvent
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.notifications import Notification
from billing.subsidies import review
from billing.subsidies.models import ClaimStatus, ObjectionStatus, SubsidyClaim, SubsidyObjection
from tests import factories
from tests import subsidy_helpers as h

OUTSIDER = "Only residents of %s can object to this claim: the project is in their community."
TWICE = "You have already objected to this claim."
VERIFIER = "You verified this claim at the district step: a different official must decide its objections."


@pytest.fixture
def noticed(clock):
    """A claim in public notice: verified by ``district``, approved by ``city``."""
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    district, city = factories.official(), factories.official()
    review.verify(db.session, claim.id, official=district)
    review.approve(db.session, claim.id, official=city)
    db.session.commit()
    return {"claim": claim, "community": community, "staff": staff, "district": district, "city": city}


def state(claim_id: int) -> dict:
    """Everything an objection or its decision may change."""
    db.session.expire_all()
    claim = db.session.get(SubsidyClaim, claim_id)
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    return {"status": claim.status, "ends": claim.notice_ends_at, "paused": claim.paused_at,
            "objections": [(o.id, o.status, o.abusive, o.resolution_note) for o in claim.objections],
            "notifications": count(Notification), "audit": count(AuditEvent)}


def rendered_form(client, page_url: str, form_id: str | None = None, action: str | None = None,
                  **fields) -> tuple[str, dict]:
    """The form a page rendered (by id or action), with its hidden fields and defaults, and
    ``fields`` filled in: what a browser would send.  Fails if the page has no such form
    or the field is not in it."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    if form_id:
        form = soup.find("form", id=form_id)
    elif action:
        form = soup.find("form", action=action)
    else:  # the page's form with a password field
        form = next((f for f in soup.find_all("form") if f.find("input", attrs={"type": "password"})), None)
    assert form is not None, f"{page_url} renders no form {form_id or action}"
    data = {}
    for tag in form.find_all(["input", "textarea", "select"]):
        name = tag.get("name")
        if not name or tag.get("type") == "submit":
            continue
        if tag.name == "textarea":
            data[name] = tag.get_text()
        elif tag.name == "select":
            chosen = tag.find("option", selected=True) or tag.find("option")
            data[name] = chosen.get("value") if chosen else ""
        else:
            data[name] = tag.get("value", "")
    for name, value in fields.items():
        assert name in data, f"the form has no field {name}"
        if name in {t.get("name") for t in form.find_all("select")}:
            offered = {o.get("value") for o in form.find("select", attrs={"name": name}).find_all("option")}
            assert value in offered, f"the form offers no {value!r} for {name}"
        data[name] = value
    return form.get("action") or page_url, data


def english(error) -> str:
    with force_locale("en"):
        return str(error)


def log_in(client, user) -> None:
    """Log in through the log-in form the page rendered (its CSRF token included)."""
    action, data = rendered_form(client, "/login", action=None, form_id=None, phone=user.phone,
                                 password=factories.PASSWORD)
    response = client.post(action, data=data)
    assert response.status_code == 302, response.status_code


def log_out(client) -> None:
    action, data = rendered_form(client, "/account", action="/logout")
    assert client.post(action, data=data).status_code == 302


def flashed(response) -> str:
    return " ".join(BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ").split())


# --- 4. Who may object -------------------------------------------------------------------------


def test_only_residents_of_the_claims_community_may_object(noticed, db_session):
    claim, community = noticed["claim"], noticed["community"]
    elsewhere = factories.resident()  # a resident of another community
    outsiders = [elsewhere, factories.official(), factories.admin(), factories.staff(factories.provider()),
                 noticed["staff"]]
    before = state(claim.id)
    for user in outsiders:
        with pytest.raises(Forbidden) as refused:
            review.object_to(db_session, claim.id, user=user, text="反对")
        db_session.rollback()
        message = english(refused.value)
        if user is noticed["staff"]:
            assert message == "You cannot object to your own organisation's claim."
        else:
            assert message == OUTSIDER % community.name
    assert state(claim.id) == before
    # A resident of the community objects: that one pauses the claim.
    review.object_to(db_session, claim.id, user=factories.resident(community), text="设备未通电")
    db_session.commit()
    assert state(claim.id)["status"] == ClaimStatus.OBJECTED


def test_an_outsider_sees_why_instead_of_the_form_and_the_page_and_api_refuse_them(
        noticed, client, en, db_session, csrf_enabled):
    claim, community = noticed["claim"], noticed["community"]
    resident = factories.resident(community)
    log_in(client, resident)
    # The resident's page offers the form; an outsider's shows the reason instead.
    action, data = rendered_form(client, f"/subsidies/notices/{claim.id}",
                                 action=f"/subsidies/notices/{claim.id}/object", text="数量不实")
    assert data["csrf_token"]
    log_out(client)
    outsider = factories.resident()
    log_in(client, outsider)
    page = client.get(f"/subsidies/notices/{claim.id}").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find("form", action=action) is None
    assert soup.find(id="objection-refusal").get_text(strip=True) == OUTSIDER % community.name
    before = state(claim.id)
    # Sending the form anyway (with the outsider's own CSRF token) is refused with the reason.
    token = BeautifulSoup(client.get("/account").get_data(as_text=True), "html.parser").find(
        "input", attrs={"name": "csrf_token"})["value"]
    response = client.post(action, data={**data, "csrf_token": token})
    assert response.status_code == 403
    assert OUTSIDER % community.name in flashed(response)
    assert state(claim.id) == before
    api = client.post(f"/api/v1/subsidy-notices/{claim.id}/objections", json={"text": "数量不实"},
                      headers={"X-CSRFToken": token})
    assert api.status_code == 403 and api.mimetype == "application/problem+json"
    assert api.get_json()["detail"] == OUTSIDER % community.name
    # Refused before the body is read: an empty body gets the same answer, not a 422.
    assert client.post(f"/api/v1/subsidy-notices/{claim.id}/objections", json={},
                       headers={"X-CSRFToken": token}).status_code == 403
    assert state(claim.id) == before


def test_a_claim_not_in_notice_stays_a_404_for_outsiders(clock, client, db_session):
    """Who may object is not asked of a claim that is not public: its community is not revealed."""
    provider, staff, community = h.provider_with_staff()
    claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
    log_in(client, factories.resident())
    response = client.post(f"/api/v1/subsidy-notices/{claim.id}/objections", json={"text": "x"})
    assert response.status_code == 404 and community.name not in response.get_data(as_text=True)


def test_a_resident_cannot_object_twice(noticed, client, en, db_session, csrf_enabled):
    claim, community = noticed["claim"], noticed["community"]
    resident = factories.resident(community)
    log_in(client, resident)
    notice = f"/subsidies/notices/{claim.id}"
    action, data = rendered_form(client, notice, action=f"{notice}/object", text="数量不实")
    assert client.post(action, data=data).status_code == 302
    once = state(claim.id)
    assert once["status"] == ClaimStatus.OBJECTED and len(once["objections"]) == 1
    # The page now says so instead of offering the form again…
    soup = BeautifulSoup(client.get(notice).get_data(as_text=True), "html.parser")
    assert soup.find("form", action=action) is None and soup.find(id="objection-refusal").get_text(strip=True) == TWICE
    # …and a second sending of the form, the API and the service refuse it, nothing changed.
    again = client.post(action, data=data)
    assert again.status_code == 409 and TWICE in flashed(again)
    api = client.post(f"/api/v1/subsidy-notices/{claim.id}/objections", json={"text": "再次反对"},
                      headers={"X-CSRFToken": data["csrf_token"]})
    assert api.status_code == 409 and api.get_json()["detail"] == TWICE
    with pytest.raises(Conflict) as refused:
        review.object_to(db_session, claim.id, user=resident, text="再次反对")
    assert english(refused.value) == TWICE
    db_session.rollback()
    assert state(claim.id) == once


def test_officials_are_told_once_per_pause_however_many_object(noticed, db_session):
    claim, community = noticed["claim"], noticed["community"]
    officials = {noticed["district"].id, noticed["city"].id, factories.official().id}
    told = lambda: db_session.scalars(sa.select(Notification.user_id).where(  # noqa: E731
        Notification.kind == "subsidy.objection_to_review")).all()
    staff_told = lambda: db_session.scalar(sa.select(sa.func.count()).where(  # noqa: E731
        Notification.kind == "subsidy.objected"))
    for n in range(5):
        review.object_to(db_session, claim.id, user=factories.resident(community), text=f"反对{n}")
        db_session.commit()
    assert sorted(told()) == sorted(officials)  # once each, not five times
    assert staff_told() == 1
    assert len(state(claim.id)["objections"]) == 5


# --- 4. Abusive objections ------------------------------------------------------------------------


def test_an_abusive_objection_stops_pausing_the_notice_and_the_objector_is_told(noticed, db_session, clock):
    claim, community, city = noticed["claim"], noticed["community"], noticed["city"]
    ends = claim.notice_ends_at
    spammer = factories.resident(community)
    clock.advance(days=2)
    objection = review.object_to(db_session, claim.id, user=spammer, text="骗补！！！")
    db_session.commit()
    clock.advance(days=3)  # paused for three days
    with pytest.raises(Invalid) as no_reason:
        review.resolve_objection(db_session, objection.id, official=city, outcome="abusive", note=" ")
    db_session.rollback()
    assert english(no_reason.value) == "Say why the objection is abusive; the objector sees it."
    review.resolve_objection(db_session, objection.id, official=city, outcome="abusive",
                             note="同一内容在多个公示下重复提交")
    db_session.commit()
    after = state(claim.id)
    # The notice resumes with the five days it had left: its end moves by the three days of the pause.
    assert after["status"] == ClaimStatus.NOTICE and after["paused"] is None
    assert after["ends"] == ends + timedelta(days=3)
    assert after["objections"] == [(objection.id, ObjectionStatus.DISMISSED, True, "同一内容在多个公示下重复提交")]
    told = db_session.scalars(sa.select(Notification).where(Notification.user_id == spammer.id)).all()
    assert [n.kind for n in told] == ["subsidy.objection_abusive"]
    assert told[0].link == f"/subsidies/notices/{claim.id}"
    with force_locale("en"):
        assert told[0].message == (f"An official dismissed your objection to subsidy claim #{claim.id} "
                                   f"({claim.project.title}) as abusive: 同一内容在多个公示下重复提交")
    event = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "subsidy_claim.objection_abusive")).one()
    assert (event.actor_id, event.object_id, event.reason) == (city.id, claim.id, "同一内容在多个公示下重复提交")
    # The same person cannot pause it again; the notice runs out and the claim is paid.
    with pytest.raises(Conflict):
        review.object_to(db_session, claim.id, user=spammer, text="再来")
    db_session.rollback()
    clock.advance(days=5, minutes=1)
    assert review.due_for_disbursement(db_session) == [claim.id]


def test_an_abusive_objection_leaves_the_claim_paused_while_another_is_open(noticed, db_session):
    claim, community, city = noticed["claim"], noticed["community"], noticed["city"]
    spam = review.object_to(db_session, claim.id, user=factories.resident(community), text="垃圾")
    real = review.object_to(db_session, claim.id, user=factories.resident(community), text="设备未安装")
    review.resolve_objection(db_session, spam.id, official=city, outcome="abusive", note="无关内容")
    db_session.commit()
    assert state(claim.id)["status"] == ClaimStatus.OBJECTED
    review.resolve_objection(db_session, real.id, official=city, outcome="dismissed", note="已现场核实")
    db_session.commit()
    assert state(claim.id)["status"] == ClaimStatus.NOTICE


def test_an_official_marks_an_objection_abusive_from_the_claim_page(noticed, client, en, db_session,
                                                                   csrf_enabled):
    claim, community, city = noticed["claim"], noticed["community"], noticed["city"]
    objection = review.object_to(db_session, claim.id, user=factories.resident(community), text="骗补")
    db_session.commit()
    log_in(client, city)
    page = f"/official/subsidies/claims/{claim.id}"
    action, data = rendered_form(client, page, form_id=f"resolve-form-{objection.id}", outcome="abusive", note="")
    response = client.post(action, data=data)  # no reason: refused on its field
    assert response.status_code == 422 and "Say why the objection is abusive" in response.get_data(as_text=True)
    assert state(claim.id)["status"] == ClaimStatus.OBJECTED
    action, data = rendered_form(client, page, form_id=f"resolve-form-{objection.id}", outcome="abusive",
                                 note="重复刷屏")
    assert client.post(action, data=data).status_code == 302
    shown = client.get(page).get_data(as_text=True)
    assert "Dismissed as abusive" in shown and "重复刷屏" in shown
    assert state(claim.id)["status"] == ClaimStatus.NOTICE


def test_the_api_marks_an_objection_abusive(noticed, client, en, db_session):
    claim, community = noticed["claim"], noticed["community"]
    objection = review.object_to(db_session, claim.id, user=factories.resident(community), text="骗补")
    db_session.commit()
    log_in(client, noticed["city"])
    response = client.post(f"/api/v1/official/subsidies/objections/{objection.id}/resolve",
                           json={"outcome": "abusive", "note": "重复刷屏"})
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["abusive"]) == ("dismissed", True)
    assert state(claim.id)["status"] == ClaimStatus.NOTICE


# --- 5. Separation of duties --------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["dismissed", "upheld", "abusive"])
def test_the_verifier_cannot_decide_the_claims_objections(noticed, db_session, outcome):
    claim, community, district = noticed["claim"], noticed["community"], noticed["district"]
    objection = review.object_to(db_session, claim.id, user=factories.resident(community), text="虚报数量")
    db_session.commit()
    before = state(claim.id)
    with pytest.raises(Forbidden) as refused:
        review.resolve_objection(db_session, objection.id, official=district, outcome=outcome, note="已核实")
    db_session.rollback()
    assert english(refused.value) == VERIFIER
    assert state(claim.id) == before
    # The city approver (another official) may.
    review.resolve_objection(db_session, objection.id, official=noticed["city"], outcome=outcome, note="已核实")
    db_session.commit()
    assert state(claim.id)["objections"][0][1] != ObjectionStatus.OPEN


def test_the_verifier_is_refused_on_the_page_and_the_api(noticed, client, en, db_session, csrf_enabled):
    claim, community, district = noticed["claim"], noticed["community"], noticed["district"]
    objection = review.object_to(db_session, claim.id, user=factories.resident(community), text="虚报数量")
    db_session.commit()
    before = state(claim.id)
    log_in(client, district)
    page = f"/official/subsidies/claims/{claim.id}"
    shown = BeautifulSoup(client.get(page).get_data(as_text=True), "html.parser")
    # The page says why instead of offering a form the verifier may not submit (the same rule).
    assert shown.find(id="objections-not-yours").get_text(strip=True) == VERIFIER
    assert shown.find(id=f"resolve-form-{objection.id}") is None
    token = shown.find("input", attrs={"name": "csrf_token"})["value"]  # the page's other forms (log-out)
    api = client.post(f"/api/v1/official/subsidies/objections/{objection.id}/resolve",
                      json={"outcome": "upheld", "note": "已核实"}, headers={"X-CSRFToken": token})
    assert api.status_code == 403 and api.mimetype == "application/problem+json"
    assert api.get_json()["detail"] == VERIFIER
    assert state(claim.id) == before
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SubsidyObjection)
                             .where(SubsidyObjection.status == ObjectionStatus.OPEN)) == 1


def test_the_database_keeps_abusive_for_dismissed_objections(noticed, db_session):
    """The CHECK of migration 0015: an open (or upheld) objection cannot be flagged abusive."""
    objection = review.object_to(db_session, noticed["claim"].id, user=factories.resident(noticed["community"]),
                                 text="骗补")
    db_session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        with db_session.begin_nested():
            db_session.execute(sa.update(SubsidyObjection).where(SubsidyObjection.id == objection.id)
                               .values(abusive=True))
    db_session.expire_all()
    assert db_session.get(SubsidyObjection, objection.id).abusive is False
