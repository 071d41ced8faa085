"""Issue 12, item 17: a provider learns only that a visit is government-funded.

A provider's booking page named the programme that pays, and the programme's
public terms say who its residents are (living alone, an age; a disability
programme would say disability).  A provider's booking pages, its agenda and the
booking API now show neither the programme's name nor its eligibility; its awards
page and API keep what a contractor needs (the contract's name, term, contract
price, quota) without the eligibility terms or a link to them.  The resident still
sees which programme pays.
"""

from __future__ import annotations

import re

import pytest

from app.auth.services import issue_token
from app.clock import local
from app.extensions import db
from billing.programmes.entitlements import book_with_entitlement
from providers.bookings import services
from tests import factories
from tests.programme_helpers import enrolled_resident, open_programme
from tests.carer_helpers import carer_for

TITLE = "居家养老上门服务"  # tests.programme_helpers.terms
ELIGIBILITY_EN = ("living alone", "aged 60 or over", "Eligible residents", "low-income", "disability")
ELIGIBILITY_ZH = ("独居", "60 岁", "60岁")


def bearer(user) -> dict:
    _, raw = issue_token(db.session, user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def funded(db_session):
    programme, award, listing, staff, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    booking = book_with_entitlement(db_session, resident, listing_id=listing.id,
                                    starts_at=factories.next_slot(listing, days_ahead=2), address="3号楼")
    db_session.commit()
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))
    db_session.commit()
    return {"programme": programme, "award": award, "booking": booking, "staff": staff, "resident": resident}


def assert_nothing_of_the_programme(body: str, programme, *, name_allowed: bool = False) -> None:
    if not name_allowed:
        assert TITLE not in body and programme.title not in body
    for text in (*ELIGIBILITY_EN, *ELIGIBILITY_ZH):
        assert text not in body, text
    assert f"/programmes/{programme.id}" not in body  # its public page, with the eligibility terms


def provider_pages(funded) -> list[str]:
    booking = funded["booking"]
    day = local(booking.starts_at).date().isoformat()
    return [f"/provider/bookings/{booking.id}", "/provider/bookings?view=list",
            f"/provider/bookings?view=day&date={day}", f"/provider/bookings?view=week&date={day}"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_providers_booking_pages_say_only_government_funded(client, auth, funded, lang):
    client.set_cookie("linli_lang", lang)
    auth.login(funded["staff"])
    for url in provider_pages(funded):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_nothing_of_the_programme(response.get_data(as_text=True), funded["programme"])
    page = client.get(f"/provider/bookings/{funded['booking'].id}").get_data(as_text=True)
    if lang == "en":
        assert "Government-funded visit" in page


def test_the_booking_api_tells_the_provider_nothing_of_the_programme(client, funded):
    headers = bearer(funded["staff"])
    for url in (f"/api/v1/bookings/{funded['booking'].id}", "/api/v1/bookings"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert_nothing_of_the_programme(response.get_data(as_text=True), funded["programme"])


def test_the_awards_page_and_api_keep_the_contract_not_the_eligibility(client, auth, en, funded):
    award = funded["award"]
    auth.login(funded["staff"])
    page = client.get("/provider/programmes")
    assert page.status_code == 200
    body = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert_nothing_of_the_programme(body, funded["programme"], name_allowed=True)
    assert "1 of 500" in body or f"{award.quota_used} of {award.quota}" in body
    assert "2026-11-01 – 2027-10-31" in body
    api = client.get("/api/v1/my/programme-awards", headers=bearer(funded["staff"]))
    assert api.status_code == 200
    [row] = api.get_json()
    assert (row["contract_price_fen"], row["quota"], row["start_date"]) == (6000, 500, "2026-11-01")
    assert_nothing_of_the_programme(api.get_data(as_text=True), funded["programme"], name_allowed=True)


def test_the_resident_still_sees_which_programme_pays(client, auth, funded):
    client.set_cookie("linli_lang", "en")
    auth.login(funded["resident"])
    page = client.get(f"/bookings/{funded['booking'].id}").get_data(as_text=True)
    assert TITLE in page and "Paid by a purchase programme" in page
