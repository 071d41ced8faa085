"""The provider dashboard's first-run checklist: the rule of what counts as done, the
facts it reads, and the page (each item with its link; hidden once all are done)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
from bs4 import BeautifulSoup

from app.extensions import db
from billing.payment_models import PayoutAccount
from providers import checklist, registration, uploads
from providers.carers.models import Carer
from providers.models import DocumentKind, ListingStatus, ProviderStatus
from tests import factories
from tests.rating_helpers import PDF

pytestmark = pytest.mark.usefixtures("english_messages")

ALL_DONE = checklist.Facts(valid_documents=1, missing_documents=0, listings=1, published_listings=1,
                           listings_with_hours=1, payout_account_set=True, active_carers=1)


def test_everything_done_is_all_done():
    assert checklist.done(ALL_DONE) == dict.fromkeys(checklist.KEYS, True)


@pytest.mark.parametrize(("change", "not_done"), [
    ({"valid_documents": 0}, "documents"),
    ({"missing_documents": 1}, "documents"),  # a licence alone is not enough when a category needs more
    ({"published_listings": 0}, "listing"),  # a draft is not a first listing
    ({"listings_with_hours": 0}, "availability"),
    ({"payout_account_set": False}, "payout"),
    ({"active_carers": 0}, "carers"),
])
def test_each_item_has_its_own_rule(change, not_done):
    marks = checklist.done(replace(ALL_DONE, **change))
    assert [key for key, ok in marks.items() if not ok] == [not_done]


def add_document(provider, staff, kind=DocumentKind.BUSINESS_LICENCE, expires=date(2030, 1, 1)):
    """A document uploaded while the provider was pending (in force at once; an active
    provider's new document waits for the district's review)."""
    status, provider.status = provider.status, ProviderStatus.PENDING
    stored = uploads.save_document(io.BytesIO(PDF), "营业执照.pdf")
    registration.add_document(db.session, provider, stored, kind=kind, expires_on=expires, actor=staff)
    provider.status = status
    db.session.commit()


def test_the_facts_come_from_the_providers_rows(clock):
    place = factories.community()
    provider = factories.provider(communities=[place], categories=["housekeeping"])
    staff = factories.staff(provider)
    db.session.query(Carer).filter_by(provider_id=provider.id).update({"active": False})
    db.session.commit()
    on = clock.now().date()
    facts = checklist.facts_of(db.session, provider, on)
    assert (facts.valid_documents, facts.listings, facts.published_listings, facts.payout_account_set,
            facts.active_carers) == (0, 0, 0, False, 0)
    add_document(provider, staff)
    draft = factories.listing(provider, status=ListingStatus.DRAFT)
    facts = checklist.facts_of(db.session, provider, on)
    assert (facts.valid_documents, facts.listings, facts.published_listings, facts.listings_with_hours) == (1, 1, 0, 1)
    draft.status = ListingStatus.PUBLISHED
    db.session.add(PayoutAccount(provider_id=provider.id, bank_name="建设银行", bank_account_no="6217000011112222",
                                 account_holder=provider.name))
    db.session.query(Carer).filter_by(provider_id=provider.id).update({"active": True})
    db.session.commit()
    facts = checklist.facts_of(db.session, provider, on)
    assert (facts.published_listings, facts.payout_account_set, facts.active_carers) == (1, True, 1)
    assert checklist.done(facts) == dict.fromkeys(checklist.KEYS, True)


def test_an_empty_payout_account_is_not_set(client):
    provider = factories.provider()
    db.session.add(PayoutAccount(provider_id=provider.id))
    db.session.commit()
    assert not checklist.facts_of(db.session, provider, date(2026, 12, 1)).payout_account_set


def checklist_items(client) -> dict[str, tuple[bool, str | None]]:
    soup = BeautifulSoup(client.get("/provider").get_data(as_text=True), "html.parser")
    section = soup.find(id="first-steps")
    if section is None:
        return {}
    return {li["id"].removeprefix("step-"): ("done" in li["class"], (li.find("a") or {}).get("href"))
            for li in section.select("li")}


def test_the_dashboard_shows_each_item_with_a_link_until_all_are_done(client, auth, clock):
    place = factories.community()
    provider = factories.provider(communities=[place], categories=["housekeeping"])
    staff = factories.staff(provider)
    db.session.query(Carer).filter_by(provider_id=provider.id).update({"active": False})
    db.session.commit()
    auth.login(staff)
    items = checklist_items(client)
    assert items == {
        "documents": (False, "/provider#documents"),
        "listing": (False, "/provider/listings/new"),
        "availability": (False, "/provider/listings/new"),
        "payout": (False, "/provider/statements"),
        "carers": (False, "/provider/carers"),
    }
    add_document(provider, staff)
    factories.listing(provider, status=ListingStatus.PUBLISHED)
    items = checklist_items(client)
    assert {key: ok for key, (ok, _link) in items.items()} == {
        "documents": True, "listing": True, "availability": True, "payout": False, "carers": False}
    assert items["documents"][1] is None  # nothing to do there any more
    db.session.add(PayoutAccount(provider_id=provider.id, stripe_account_id="acct_ready"))
    db.session.query(Carer).filter_by(provider_id=provider.id).update({"active": True})
    db.session.commit()
    assert checklist_items(client) == {}  # all done: hidden


def test_a_pending_provider_is_told_listings_come_after_approval(client, auth):
    provider = factories.provider(status=ProviderStatus.PENDING)
    auth.login(factories.staff(provider))
    html = client.get("/provider").get_data(as_text=True)
    assert "You can create listings once the district approves your organisation." in html
    assert checklist_items(client)["listing"] == (False, None)


def test_a_suspended_provider_sees_no_checklist(client, auth):
    provider = factories.provider(status=ProviderStatus.SUSPENDED)
    auth.login(factories.staff(provider))
    assert checklist_items(client) == {}


def headline(client) -> str | None:
    found = BeautifulSoup(client.get("/provider").get_data(as_text=True), "html.parser").find(
        id="first-steps-headline")
    return None if found is None else " ".join(found.get_text().split())


def test_the_headline_says_what_is_true_in_each_state(client, auth):
    # Pending: residents cannot book it yet, and the reason is the approval.
    pending = factories.provider(status=ProviderStatus.PENDING)
    auth.login(factories.staff(pending))
    assert "Residents can book you once the district has approved your organisation" in headline(client)
    # Approved, nothing published: residents cannot book it yet.
    fresh = factories.provider(categories=["housekeeping"])
    auth.login(factories.staff(fresh))
    assert headline(client).endswith("steps left before residents can book you.")
    # Approved with a published listing with hours (residents book it): only the payout account is
    # left, which the district office records — never "before residents can book you".
    add_document(fresh, factories.staff(fresh))
    factories.listing(fresh, status=ListingStatus.PUBLISHED)
    auth.login(factories.staff(fresh))
    text = headline(client)
    assert text == "Residents can already book you. 1 item left to finish:"
    page = BeautifulSoup(client.get("/provider").get_data(as_text=True), "html.parser")
    payout = " ".join(page.find(id="step-payout").get_text().split())
    assert "recorded by the district office" in payout and "You cannot set this yourself" in payout
