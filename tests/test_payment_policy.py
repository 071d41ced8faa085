"""A listing's payment policy: the provider's page, the JSON API, access, validation, audit,
and that a change applies to bookings made afterwards."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from billing import payments
from billing.payment_models import PayAt, PaymentPolicy
from providers.models import ListingStatus
from tests import factories
from tests.forms import submit
from tests.billing_helpers import provider_and_staff
from tests.helpers import bearer

PROBLEM = "application/problem+json"


def own_listing(**kwargs):
    provider, member = provider_and_staff()
    return factories.listing(provider, **kwargs), member


def audits(listing_id: int) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "listing.payment_policy_changed", AuditEvent.object_id == listing_id)).all()


def page(listing_id: int) -> str:
    return f"/provider/listings/{listing_id}/payment-policy"


def api(listing_id: int) -> str:
    return f"/api/v1/listings/{listing_id}/payment-policy"


# --- the page -------------------------------------------------------------------------


def test_staff_set_the_policy_on_the_page_and_see_it_on_their_listings(client, auth, en, db_session):
    listing, member = own_listing()
    auth.login(member)
    shown = client.get(page(listing.id))
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "This listing uses the default policy." in html
    assert re.search(r'<input checked [^>]*value="acceptance"', html) and 'value="20"' in html
    response = submit(client, page(listing.id), fields={"pay_at": "booking", "late_cancel_fee_percent": "35"},
                      follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "is saved. It applies to new bookings." in html
    assert "Paid when booked" in html and "late-cancellation fee 35%" in html
    assert page(listing.id) in html  # the link on the listing card
    policy = db_session.get(PaymentPolicy, listing.id)
    assert (policy.pay_at, policy.late_cancel_fee_percent) == (PayAt.BOOKING, 35)
    [event] = audits(listing.id)
    assert event.actor_id == member.id
    assert event.before == {"pay_at": "acceptance", "late_cancel_fee_percent": 20}
    assert event.after == {"pay_at": "booking", "late_cancel_fee_percent": 35}


def test_saving_the_same_policy_again_writes_no_second_audit_event(client, auth, db_session):
    listing, member = own_listing()
    auth.login(member)
    for _ in range(2):
        assert submit(client, page(listing.id), fields={"pay_at": "booking", "late_cancel_fee_percent": "20"}
                      ).status_code == 302
    assert len(audits(listing.id)) == 1


# "tampered": a choice the page does not offer, or without the radio group the page
# renders with one option checked; posted raw on purpose.
@pytest.mark.parametrize("how, data, message", [
    ("form", {"pay_at": "acceptance", "late_cancel_fee_percent": "150"}, "whole percentage from 0 to 100"),
    ("form", {"pay_at": "acceptance", "late_cancel_fee_percent": "-1"}, "whole percentage from 0 to 100"),
    ("form", {"pay_at": "acceptance", "late_cancel_fee_percent": "ten"}, "whole percentage from 0 to 100"),
    ("tampered", {"pay_at": "weekly", "late_cancel_fee_percent": "10"}, "Choose when residents pay"),
    ("tampered", {"late_cancel_fee_percent": "10"}, "Choose when residents pay"),
])
def test_bad_input_on_the_page_is_422_with_its_message_and_changes_nothing(client, auth, en, db_session,
                                                                           how, data, message):
    listing, member = own_listing()
    auth.login(member)
    if how == "form":
        response = submit(client, page(listing.id), fields=data)
    else:
        response = client.post(page(listing.id), data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'class="error"' in html
    assert f'value="{data["late_cancel_fee_percent"]}"' in html  # the input is kept
    assert db_session.get(PaymentPolicy, listing.id) is None and audits(listing.id) == []


def test_the_page_is_only_for_the_listing_s_own_staff(client, auth, db_session):
    listing, _ = own_listing()
    _, stranger = provider_and_staff()
    auth.login(stranger)
    # Access rules: the page is refused, so the posts are hand-made.
    assert client.get(page(listing.id)).status_code == 404
    assert client.post(page(listing.id), data={"pay_at": "booking", "late_cancel_fee_percent": "0"}
                       ).status_code == 404
    auth.logout()
    auth.login(factories.resident())
    assert client.get(page(listing.id)).status_code == 403
    auth.logout()
    auth.login(factories.official())
    assert client.post(page(listing.id), data={"pay_at": "booking", "late_cancel_fee_percent": "0"}
                       ).status_code == 403
    assert db_session.get(PaymentPolicy, listing.id) is None


def test_an_archived_listing_s_policy_cannot_change(client, auth, en, db_session):
    listing, member = own_listing(status=ListingStatus.ARCHIVED)
    auth.login(member)
    response = submit(client, page(listing.id), fields={"pay_at": "booking", "late_cancel_fee_percent": "0"})
    assert response.status_code == 409 and "archived listing cannot be changed" in response.get_data(as_text=True)
    assert db_session.get(PaymentPolicy, listing.id) is None


# --- the API --------------------------------------------------------------------------


def test_api_get_for_own_staff_and_officials_defaults_first(client, db_session):
    listing, member = own_listing()
    body = client.get(api(listing.id), headers=bearer(member)).get_json()
    assert body == {"listing_id": listing.id, "pay_at": "acceptance", "late_cancel_fee_percent": 20,
                    "is_default": True}
    db_session.add(PaymentPolicy(listing_id=listing.id, pay_at=PayAt.BOOKING, late_cancel_fee_percent=0))
    db_session.commit()
    response = client.get(api(listing.id), headers=bearer(factories.official()))
    assert response.status_code == 200
    assert response.get_json() == {"listing_id": listing.id, "pay_at": "booking", "late_cancel_fee_percent": 0,
                                   "is_default": False}


def test_api_access(client, db_session):
    listing, _ = own_listing()
    _, stranger = provider_and_staff()
    good = {"pay_at": "booking", "late_cancel_fee_percent": 10}
    assert client.get(api(listing.id)).status_code == 401
    assert client.get(api(listing.id), headers=bearer(stranger)).status_code == 404
    assert client.get(api(listing.id), headers=bearer(factories.resident())).status_code == 403
    assert client.get(api(10**6), headers=bearer(factories.official())).status_code == 404
    assert client.put(api(listing.id), json=good, headers=bearer(stranger)).status_code == 404
    official = client.put(api(listing.id), json=good, headers=bearer(factories.official()))
    assert official.status_code == 403 and official.mimetype == PROBLEM
    assert client.put(api(listing.id), json=good).status_code == 401
    assert db_session.get(PaymentPolicy, listing.id) is None and audits(listing.id) == []


def test_api_put_sets_and_audits(client, db_session):
    listing, member = own_listing()
    response = client.put(api(listing.id), json={"pay_at": "booking", "late_cancel_fee_percent": 0},
                          headers=bearer(member))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"listing_id": listing.id, "pay_at": "booking", "late_cancel_fee_percent": 0,
                                   "is_default": False}
    [event] = audits(listing.id)
    assert event.after == {"pay_at": "booking", "late_cancel_fee_percent": 0} and event.actor_id == member.id


@pytest.mark.parametrize("body, field", [
    ({"pay_at": "acceptance", "late_cancel_fee_percent": 150}, "late_cancel_fee_percent"),
    ({"pay_at": "acceptance", "late_cancel_fee_percent": -5}, "late_cancel_fee_percent"),
    ({"pay_at": "acceptance", "late_cancel_fee_percent": "ten"}, "late_cancel_fee_percent"),
    ({"pay_at": "weekly", "late_cancel_fee_percent": 10}, "pay_at"),
    ({"late_cancel_fee_percent": 10}, "pay_at"),
])
def test_api_bad_input_is_422_naming_the_field_and_changes_nothing(client, db_session, body, field):
    listing, member = own_listing()
    response = client.put(api(listing.id), json=body, headers={**bearer(member), "Accept-Language": "en"})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][field]
    assert db_session.get(PaymentPolicy, listing.id) is None and audits(listing.id) == []


def test_api_fee_message_is_specific(client, db_session):
    listing, member = own_listing()
    client.set_cookie("linli_lang", "en")
    response = client.put(api(listing.id), json={"pay_at": "booking", "late_cancel_fee_percent": 150},
                          headers=bearer(member))
    assert response.get_json()["errors"]["late_cancel_fee_percent"] == [
        "The late-cancellation fee must be a whole percentage from 0 to 100."]


def test_a_change_applies_to_new_bookings(client, db_session):
    listing, member = own_listing()
    before = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=2))
    assert payments.live_payment(db_session, before.id) is None  # default: paid at acceptance
    assert client.put(api(listing.id), json={"pay_at": "booking", "late_cancel_fee_percent": 50},
                      headers=bearer(member)).status_code == 200
    after = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=3))
    payment = payments.live_payment(db_session, after.id)
    assert payment is not None and payment.amount_fen == after.price_fen  # due at booking now
    assert payments.live_payment(db_session, before.id) is None  # the earlier booking is unchanged
    assert payments.policy_for(db_session, listing.id).late_cancel_fee_percent == 50


def test_the_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    item = spec["paths"]["/api/v1/listings/{listing_id}/payment-policy"]
    assert {"get", "put"} <= set(item)
    assert {"400", "401", "403", "404", "409", "422"} <= set(item["put"]["responses"])
    schema = spec["components"]["schemas"]["PaymentPolicy"]
    assert schema["properties"]["pay_at"]["enum"] == ["booking", "acceptance"]
    assert (schema["properties"]["late_cancel_fee_percent"]["minimum"],
            schema["properties"]["late_cancel_fee_percent"]["maximum"]) == (0, 100)
