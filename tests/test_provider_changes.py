"""Issue 12, item 1: an approved provider cannot grant itself what officials vetted.

The abuse the probe got through: an active housekeeping provider renamed itself
"区民政局认证…", added 上门医疗 to its categories through ``POST /provider/edit``,
stayed active with no review and published a medical listing.  Now the vetted
details go into a change request that an official approves or rejects; until then
the old values stay in force (provider row, public page, catalogue API, listings),
and a category that needs a qualification needs the matching valid document.

The page tests submit the forms the pages render (WebTest), with CSRF on.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g
from webtest import TestApp, Upload

from app.audit import AuditEvent
from app.clock import today
from app.extensions import db
from app.models import SmsMessage
from app.notifications import Notification
from providers import listings, registration, uploads, vetting
from providers.models import (
    ChangeStatus,
    DocumentKind,
    Listing,
    ListingStatus,
    Provider,
    ProviderChange,
    ProviderStatus,
    QualificationDocument,
)
from tests import factories
from tests.conftest import PASSWORD

# The assertions read the English messages.
pytestmark = pytest.mark.usefixtures("english_messages")

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
FAKE_NAME = "区民政局认证家庭医生服务中心"
MEDICAL_TITLE = "家庭医生上门（输液、打针）"
NEEDS_LICENCE = "Home medical visit needs a valid Medical practice licence. Upload it under “Qualification documents” first."
NONE_ON_FILE = ("Home medical visit needs a valid Medical practice licence and none is on file: the provider must "
                "upload it before this can be approved.")


class Browser(TestApp):
    """WebTest against the app.  The test's app context (``db_session``) is shared by every
    request, and so is ``g``: Flask-WTF caches the CSRF token there, and would hand a token
    from before the log-in (which clears the session) to the pages after it.  A browser's
    requests share nothing but cookies, so forget it before each one."""

    def do_request(self, *args, **kwargs):
        g.pop("csrf_token", None)
        return super().do_request(*args, **kwargs)


@pytest.fixture
def web(app, csrf_enabled):
    """A browser-like client: it fills and submits the forms the pages render, with CSRF on."""
    browser = Browser(app)
    browser.set_cookie("linli_lang", "en")
    return browser


def form_with(page, field: str, action: str | None = None):
    """The page's form that has ``field`` (and posts to ``action``, if given)."""
    for form in page.forms.values():
        if field in form.fields and (action is None or (form.action or "").endswith(action)):
            return form
    raise AssertionError(f"no form with {field!r} on {page.request.url}")


def log_in(web, user) -> None:
    form = form_with(web.get("/login"), "password")
    form["phone"] = user.phone
    form["password"] = PASSWORD
    assert form.submit().status_code == 302
    web.get("/")  # nothing pending


def log_out(web) -> None:
    web.reset()
    web.set_cookie("linli_lang", "en")


def check_categories(form, ids: set[int]) -> None:
    for box in form.fields["category_ids"]:
        box.checked = int(box._value) in ids


@pytest.fixture
def housekeeper():
    """An active housekeeping provider with a published listing, and its staff member."""
    provider = factories.provider(status=ProviderStatus.ACTIVE, categories=["housekeeping"])
    staff = factories.staff(provider)
    published = factories.listing(provider, category_code="housekeeping")
    return provider, staff, published


def in_force(session, provider_id: int) -> tuple[str, str, list[str]]:
    session.expire_all()
    provider = session.get(Provider, provider_id)
    return provider.name, provider.legal_representative, sorted(c.code for c in provider.categories)


def events(session, provider_id: int, action: str) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "provider", AuditEvent.object_id == provider_id, AuditEvent.action == action)
        .order_by(AuditEvent.id)))


def notifications(session, user_id: int, kind: str) -> list[Notification]:
    return list(session.scalars(sa.select(Notification).where(
        Notification.user_id == user_id, Notification.kind == kind).order_by(Notification.id)))


def changes_of(session, provider_id: int) -> list[ProviderChange]:
    return list(session.scalars(sa.select(ProviderChange).where(ProviderChange.provider_id == provider_id)
                                .order_by(ProviderChange.id)))


def upload_licence(web, kind: str = "medical_licence", days: int = 365):
    """Upload a document through the dashboard's rendered form."""
    form = form_with(web.get("/provider"), "expires_on", "/provider/documents")
    form["kind"] = kind
    form["expires_on"] = (today() + timedelta(days=days)).isoformat()
    form["file"] = Upload("执业许可证.pdf", PDF, "application/pdf")
    return form.submit()


def request_medical_rename(web):
    """The abuse: rename to an official-sounding name and add 上门医疗, on the rendered edit form."""
    form = form_with(web.get("/provider/edit"), "contact_phone")
    form["name"] = FAKE_NAME
    check_categories(form, {factories.category("housekeeping").id, factories.category("home_medical").id})
    return form.submit(expect_errors=True)


def file_change(session, provider, staff, *, name=FAKE_NAME, codes=("housekeeping", "home_medical"),
                licence_days: int | None = 365):
    """The same request through the service (for the officials' tests)."""
    if licence_days is not None:
        stored = uploads.save_document(io.BytesIO(PDF), "执业许可证.pdf")
        registration.add_document(session, provider, stored, kind="medical_licence",
                                  expires_on=today() + timedelta(days=licence_days), actor=staff)
    details = registration.ProviderDetails(
        name=name, credit_code=provider.credit_code, legal_representative=provider.legal_representative,
        contact_name=provider.contact_name, contact_phone=provider.contact_phone, address=provider.address,
        description=provider.description, category_ids=[factories.category(c).id for c in codes],
        community_ids=[c.id for c in provider.communities],
    )
    change = registration.update_details(session, provider, details, actor=staff)
    session.commit()
    return change


# --- the abuse, step by step -------------------------------------------------------------


def test_adding_home_medical_without_a_licence_is_refused_and_nothing_changes(web, housekeeper, db_session):
    provider, staff, _ = housekeeper
    official = factories.official()
    log_in(web, staff)
    before = in_force(db_session, provider.id)

    response = request_medical_rename(web)

    assert response.status_code == 422
    assert response.html.select_one("#category_ids-error").get_text(strip=True) == NEEDS_LICENCE
    assert in_force(db_session, provider.id) == before
    assert changes_of(db_session, provider.id) == []
    assert events(db_session, provider.id, "provider.change_requested") == []
    assert notifications(db_session, official.id, "provider.change_requested") == []


def test_the_rename_and_new_category_wait_for_review_and_the_old_values_stay_in_force(
        web, housekeeper, db_session, app):
    provider, staff, published = housekeeper
    official = factories.official()
    log_in(web, staff)
    before = in_force(db_session, provider.id)

    # The licence it uploads joins a change request: not in force yet.
    assert upload_licence(web).status_code == 302
    (document,) = db_session.scalars(sa.select(QualificationDocument).where(
        QualificationDocument.provider_id == provider.id))
    assert not document.in_force and document.change.status == ChangeStatus.PENDING

    response = request_medical_rename(web)
    assert response.status_code == 302
    assert "sent for review" in response.follow().text

    # Nothing of it is in force: the provider row, its status, the public page and the API.
    assert in_force(db_session, provider.id) == before
    assert db_session.get(Provider, provider.id).status == ProviderStatus.ACTIVE
    (change,) = changes_of(db_session, provider.id)
    assert change.status == ChangeStatus.PENDING
    assert change.proposed == {"name": FAKE_NAME, "categories": ["home_medical", "housekeeping"]} or \
        change.proposed == {"name": FAKE_NAME, "categories": ["housekeeping", "home_medical"]}
    public = web.get(f"/providers/{provider.id}").text
    assert provider.name in public and FAKE_NAME not in public and "Home medical visit" not in public
    api = web.get(f"/api/v1/providers/{provider.id}").json
    assert api["name"] == provider.name and [c["code"] for c in api["categories"]] == ["housekeeping"]
    catalogue = web.get("/api/v1/catalogue", {"all_communities": "true"}).json
    assert FAKE_NAME not in str(catalogue) and provider.name in str(catalogue)

    # The official is told, and the request is audited with what it changes.
    assert notifications(db_session, official.id, "provider.change_requested")
    (requested,) = events(db_session, provider.id, "provider.change_requested")
    assert requested.actor_id == staff.id
    assert requested.before["name"] == provider.name and requested.after["name"] == FAKE_NAME

    # The new listing form offers only the categories in force; forcing the medical one is refused.
    form = form_with(web.get("/provider/listings/new"), "title")
    offered = {value for value, *_ in form["category_id"].options}
    assert str(factories.category("home_medical").id) not in offered
    form["category_id"].force_value(str(factories.category("home_medical").id))
    form["title"] = MEDICAL_TITLE
    form["description"] = "输液、打针，上门服务。"
    form["price"] = "200"
    form["duration_minutes"] = "60"
    form["response_hours"] = "4"
    for box in form.fields["community_ids"]:
        box.checked = True
    form["mon-available"] = True
    form["mon-start"] = "09:00"
    form["mon-end"] = "17:00"
    form["mon-capacity"] = "1"
    refused = form.submit(expect_errors=True)
    assert refused.status_code == 422
    assert "not approved for Home medical visit yet" in refused.html.select_one("#category_id-error").get_text()

    # The API says the same, and no medical listing exists anywhere.
    body = {"category_id": factories.category("home_medical").id, "title": MEDICAL_TITLE,
            "description": "输液、打针。", "price_fen": 20000, "pricing_unit": "per_visit",
            "duration_minutes": 60, "response_hours": 4, "community_ids": [provider.communities[0].id],
            "availability": [{"weekday": 0, "start_minute": 540, "end_minute": 1020, "capacity": 1}]}
    api_refused = web.post_json("/api/v1/my/listings", body, headers=csrf_header(web), expect_errors=True)
    assert api_refused.status_code == 422
    assert "not approved for Home medical visit yet" in api_refused.json["detail"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Listing).where(
        Listing.provider_id == provider.id, Listing.title == MEDICAL_TITLE)) == 0
    assert db_session.get(Listing, published.id).status == ListingStatus.PUBLISHED


def csrf_header(web) -> dict:
    """The CSRF header a session API write needs (the token the pages carry)."""
    page = web.get("/provider")
    return {"X-CSRFToken": page.html.select_one("input[name=csrf_token]")["value"]}


def test_a_listing_in_a_category_not_approved_cannot_be_published_page_or_api(web, housekeeper, db_session):
    """A draft in a category the provider does not hold (one an approved change dropped, say) stays
    unpublished: the page's Publish button and the API answer 409 with the reason."""
    provider, staff, _ = housekeeper
    draft = factories.listing(provider, status=ListingStatus.DRAFT, category_code="home_medical",
                              title=MEDICAL_TITLE)
    log_in(web, staff)

    page = web.get("/provider/listings")
    form = next(f for f in page.forms.values() if (f.action or "").endswith(f"/provider/listings/{draft.id}/status"))
    refused = form.submit("status", value="published", expect_errors=True)
    assert refused.status_code == 409
    assert "not registered for this category (Home medical visit)" in refused.text

    api = web.post_json(f"/api/v1/my/listings/{draft.id}/status", {"status": "published"},
                        headers=csrf_header(web), expect_errors=True)
    assert api.status_code == 409
    assert "not registered for this category (Home medical visit)" in api.json["detail"]
    db_session.expire_all()
    assert db_session.get(Listing, draft.id).status == ListingStatus.DRAFT


def test_details_officials_did_not_vet_apply_at_once(web, housekeeper, db_session):
    provider, staff, _ = housekeeper
    log_in(web, staff)
    form = form_with(web.get("/provider/edit"), "contact_phone")
    form["contact_phone"] = "13712345678"
    form["description"] = "新的服务介绍。"
    response = form.submit()
    assert response.status_code == 302
    assert "The details are saved." in response.follow().text
    db_session.expire_all()
    saved = db_session.get(Provider, provider.id)
    assert saved.contact_phone == "13712345678" and saved.description == "新的服务介绍。"
    assert changes_of(db_session, provider.id) == []


# --- the official's decision ------------------------------------------------------------------


def test_the_official_approves_the_change_on_the_rendered_page_and_it_applies(web, housekeeper, db_session):
    provider, staff, _ = housekeeper
    change = file_change(db_session, provider, staff)
    official = factories.official()
    log_in(web, official)

    queue = web.get("/official/providers")
    assert provider.name in queue.html.select_one("#changes").find_next("table").get_text()
    page = web.get(f"/official/providers/{provider.id}")
    assert FAKE_NAME in page.html.select_one("#change-request").find_next("table").get_text()
    form = next(f for f in page.forms.values()
                if (f.action or "").endswith("/change/decision") and f["action"].value == "approve")
    response = form.submit()
    assert response.status_code == 302

    assert in_force(db_session, provider.id) == (FAKE_NAME, provider.legal_representative,
                                                 ["home_medical", "housekeeping"])
    db_session.refresh(change)
    assert change.status == ChangeStatus.APPROVED and change.decided_by_id == official.id
    (document,) = db_session.scalars(sa.select(QualificationDocument).where(
        QualificationDocument.provider_id == provider.id))
    assert document.in_force
    (approved,) = events(db_session, provider.id, "provider.change_approved")
    assert approved.actor_id == official.id and approved.after["name"] == FAKE_NAME
    assert notifications(db_session, staff.id, "provider.change_approved")

    # Now the medical listing can be created and published.
    created = listings.create_listing(db_session, db_session.get(Provider, provider.id), listings.ListingInput(
        category_id=factories.category("home_medical").id, title=MEDICAL_TITLE, description="上门。",
        price_fen=20000, pricing_unit="per_visit", duration_minutes=60, response_hours=4,
        community_ids=[provider.communities[0].id], availability=[listings.Window(0, 540, 1020, 1)]), actor=staff)
    listings.change_status(db_session, created, ListingStatus.PUBLISHED, actor=staff)
    assert created.status == ListingStatus.PUBLISHED


def test_a_rejected_change_keeps_the_old_values_and_the_provider_reads_the_reason(web, housekeeper, db_session):
    provider, staff, _ = housekeeper
    before = in_force(db_session, provider.id)
    change = file_change(db_session, provider, staff)
    official = factories.official()
    log_in(web, official)

    page = web.get(f"/official/providers/{provider.id}")
    reject = next(f for f in page.forms.values()
                  if (f.action or "").endswith("/change/decision") and f["action"].value == "reject")
    refused = reject.submit(expect_errors=True)  # no reason
    assert refused.status_code == 422
    assert "Give a reason" in refused.html.select_one("#change-reason-reject-error").get_text()
    db_session.refresh(change)
    assert change.status == ChangeStatus.PENDING

    reason = "名称不得含“区民政局认证”字样；未见医疗机构执业许可证原件。"
    reject = next(f for f in refused.forms.values()
                  if (f.action or "").endswith("/change/decision") and f["action"].value == "reject")
    reject["reason"] = reason
    assert reject.submit().status_code == 302

    assert in_force(db_session, provider.id) == before
    db_session.refresh(change)
    assert change.status == ChangeStatus.REJECTED and change.reason == reason
    assert all(not d.in_force for d in db_session.get(Provider, provider.id).documents)
    (rejected,) = events(db_session, provider.id, "provider.change_rejected")
    assert rejected.reason == reason and rejected.actor_id == official.id
    (told,) = notifications(db_session, staff.id, "provider.change_rejected")
    assert reason in told.message

    log_out(web)
    log_in(web, staff)
    dashboard = web.get("/provider")
    assert reason in dashboard.html.select_one("#change-rejected").get_text()


def test_approval_needs_the_licence_still_valid(housekeeper, db_session, clock):
    provider, staff, _ = housekeeper
    file_change(db_session, provider, staff, licence_days=10)
    official = factories.official()
    clock.set(clock.now() + timedelta(days=11))
    locked = vetting.get_provider(db_session, provider.id, for_update=True)
    with pytest.raises(Exception) as refused:
        vetting.decide_change(db_session, locked, "approve", official=official)
    assert refused.value.status == 409 and "needs a valid Medical practice licence and none is on file" in str(
        refused.value)
    db_session.rollback()
    assert in_force(db_session, provider.id)[0] == provider.name
    assert changes_of(db_session, provider.id)[0].status == ChangeStatus.PENDING


def test_an_approved_change_that_drops_a_category_pauses_its_listings(housekeeper, db_session):
    provider, staff, published = housekeeper
    provider.categories = [factories.category("housekeeping"), factories.category("repairs")]
    db_session.commit()
    repairs = factories.listing(provider, category_code="repairs")
    file_change(db_session, provider, staff, name=provider.name, codes=("housekeeping",), licence_days=None)
    locked = vetting.get_provider(db_session, provider.id, for_update=True)
    vetting.decide_change(db_session, locked, "approve", official=factories.official())
    db_session.commit()
    assert db_session.get(Listing, repairs.id).status == ListingStatus.PAUSED
    assert db_session.get(Listing, published.id).status == ListingStatus.PUBLISHED


def test_the_provider_can_withdraw_its_change_on_the_dashboard(web, housekeeper, db_session):
    provider, staff, _ = housekeeper
    change = file_change(db_session, provider, staff)
    log_in(web, staff)
    dashboard = web.get("/provider")
    assert FAKE_NAME in dashboard.html.select_one("#change-request").get_text()
    form = form_with(dashboard, "csrf_token", "/provider/changes/withdraw")
    assert form.submit().status_code == 302
    db_session.refresh(change)
    assert change.status == ChangeStatus.WITHDRAWN
    assert in_force(db_session, provider.id)[0] == provider.name
    assert web.post("/provider/changes/withdraw", {"csrf_token": form["csrf_token"].value},
                    expect_errors=True).status_code == 409


# --- registration: a category that needs a qualification ------------------------------------------


def test_a_registration_with_home_medical_is_approved_only_with_the_licence(web, db_session):
    community = factories.community()
    page = web.get("/providers/register")
    assert "Medical practice licence" in page.html.select_one("#qualifications").get_text()
    form = form_with(page, "staff_phone")
    phone = factories.phone()
    form["name"] = "安康家庭医生工作室"
    form["credit_code"] = factories.credit_code()
    form["legal_representative"] = "张医生"
    form["contact_name"] = "张医生"
    form["contact_phone"] = phone
    check_categories(form, {factories.category("home_medical").id})
    for box in form.fields["community_ids"]:
        box.checked = int(box._value) == community.id
    form["staff_name"] = "张医生"
    form["staff_phone"] = phone
    form["password"] = "a-long-passphrase-2026"
    sent = form.submit()
    assert sent.status_code == 302, sent.text[:300]
    # The phone is proven with the code the SMS outbox got (the code page as rendered).
    text = db_session.scalar(sa.select(SmsMessage.body).order_by(SmsMessage.id.desc()).limit(1))
    page = sent.follow()
    verify = form_with(page, "code")  # the code form posts back to its own page
    verify["code"] = re.search(r"\d{6}", text).group()
    assert verify.submit().status_code == 302
    provider = db_session.scalar(sa.select(Provider).where(Provider.name == "安康家庭医生工作室"))
    assert provider.status == ProviderStatus.PENDING

    log_out(web)
    official = factories.official()
    log_in(web, official)
    page = web.get(f"/official/providers/{provider.id}")
    approve = next(f for f in page.forms.values()
                   if (f.action or "").endswith("/decision") and f["action"].value == "approve")
    refused = approve.submit(expect_errors=True)
    assert refused.status_code == 409 and NONE_ON_FILE in refused.text
    db_session.expire_all()
    assert db_session.get(Provider, provider.id).status == ProviderStatus.PENDING

    # A pending provider's document is reviewed with the registration: in force at once.
    stored = uploads.save_document(io.BytesIO(PDF), "执业许可证.pdf")
    owner = db_session.get(Provider, provider.id)
    document = registration.add_document(db_session, owner, stored, kind=DocumentKind.MEDICAL_LICENCE.value,
                                         expires_on=today() + timedelta(days=365), actor=official)
    db.session.commit()
    assert document.in_force
    page = web.get(f"/official/providers/{provider.id}")
    approve = next(f for f in page.forms.values()
                   if (f.action or "").endswith("/decision") and f["action"].value == "approve")
    assert approve.submit().status_code == 302
    db_session.expire_all()
    assert db_session.get(Provider, provider.id).status == ProviderStatus.ACTIVE


# --- the officials' API ---------------------------------------------------------------------------


def test_officials_review_and_decide_a_change_through_the_api(web, housekeeper, db_session):
    provider, staff, _ = housekeeper
    before = in_force(db_session, provider.id)
    file_change(db_session, provider, staff)
    official = factories.official()
    log_in(web, official)
    headers = {"X-CSRFToken": web.get("/official/providers").html.select_one("input[name=csrf_token]")["value"]}

    review = web.get(f"/api/v1/official/providers/{provider.id}").json
    assert review["name"] == provider.name
    assert review["pending_change"]["proposed"]["name"] == FAKE_NAME
    assert [d["in_force"] for d in review["documents"]] == [False]

    url = f"/api/v1/official/providers/{provider.id}/change/decision"
    refused = web.post_json(url, {"action": "reject"}, headers=headers, expect_errors=True)
    assert refused.status_code == 422 and "Give a reason" in refused.json["detail"]
    assert in_force(db_session, provider.id) == before

    approved = web.post_json(url, {"action": "approve"}, headers=headers)
    assert approved.json["name"] == FAKE_NAME and approved.json["pending_change"] is None
    assert [d["in_force"] for d in approved.json["documents"]] == [True]
    again = web.post_json(url, {"action": "approve"}, headers=headers, expect_errors=True)
    assert again.status_code == 409 and "no change waiting for review" in again.json["detail"]


def test_a_removed_providers_change_is_neither_listed_nor_decided(housekeeper, db_session):
    provider, staff, _ = housekeeper
    file_change(db_session, provider, staff)
    provider.status = ProviderStatus.REMOVED
    db_session.commit()
    assert all(change.provider_id != provider.id for change in vetting.change_queue(db_session))
    with pytest.raises(Exception) as refused:
        vetting.decide_change(db_session, provider, "approve", official=factories.official())
    assert refused.value.status == 409 and "approved or suspended" in str(refused.value)
    db_session.rollback()
    assert in_force(db_session, provider.id)[0] == provider.name
