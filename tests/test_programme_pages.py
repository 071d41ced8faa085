"""The programme pages: officials' forms with specific messages, residents booking with the entitlement."""

from __future__ import annotations

import sqlalchemy as sa

from app.clock import local

from app.extensions import db
from billing.payment_models import Payment
from billing.programmes import entitlements, programmes
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme
from providers.bookings.forms import slot_value
from providers.bookings.models import Booking
from tests import factories
from tests.programme_helpers import enrolled_resident, open_programme, terms
from tests.forms import open_page, submit
from tests.helpers import count


def on_programme_page(client, programme, action, fields=None):
    """An official's form on the programme's page: awards, open, enrolments."""
    return submit(client, f"/official/programmes/{programme.id}",
                  action=f"/official/programmes/{programme.id}/{action}", fields=fields)


def _form(community_id, category_id, **overrides):
    data = {
        "title": "居家养老上门服务", "service_content": "上门助洁", "categories": [str(category_id)],
        "start_date": "2026-11-01", "end_date": "2027-10-31", "quantity": "1000",
        "quality_requirements": "持证上岗", "unit_price": "80", "settlement_method": "按月结算",
        "performance_targets": "满意度 ≥ 90%", "breach_liability": "按次扣减", "budget": "100000",
        "allowance_per_month": "8", "communities": [str(community_id)], "min_age": "60",
        "requires_living_alone": "y",
    }
    data.update(overrides)
    return data


def test_an_official_creates_a_programme_and_bad_terms_come_back_with_specific_messages(client, auth, en):
    official, community = factories.official(), factories.community()
    category = factories.category("housekeeping")
    auth.login(official)
    new = "/official/programmes/new"
    four_years = submit(client, new, fields=_form(community.id, category.id, end_date="2030-10-31"))
    assert four_years.status_code == 422
    assert "A purchase runs for at most 1 year" in four_years.get_data(as_text=True)
    assert 'value="居家养老上门服务"' in four_years.get_data(as_text=True)  # the input is kept
    negative = submit(client, new, fields=_form(community.id, category.id, budget="-5"))
    assert negative.status_code == 422 and "The budget cannot be negative." in negative.get_data(as_text=True)
    assert count(PurchaseProgramme) == 0
    created = submit(client, new, fields=_form(community.id, category.id, budget="0"))
    assert created.status_code == 302
    programme = db.session.scalar(sa.select(PurchaseProgramme))
    assert programme.budget_fen == 0 and programme.unit_price_fen == 8000 and programme.min_age == 60
    refused = on_programme_page(client, programme, "open")
    assert refused.status_code == 422
    assert "No budget, no purchase" in refused.get_data(as_text=True)
    assert db.session.get(PurchaseProgramme, programme.id).status == ProgrammeStatus.DRAFT


def test_an_official_awards_opens_and_enrols_through_the_pages(client, auth, en):
    official = factories.official()
    provider = factories.provider()
    community = provider.communities[0]
    programme = programmes.create_programme(db.session, official, terms([community.id]))
    db.session.commit()
    auth.login(official)
    bad = on_programme_page(client, programme, "awards",
                            {"provider_id": provider.id, "contract_price": "abc", "quota": "10"})
    assert bad.status_code == 422 and "Enter an amount in yuan" in bad.get_data(as_text=True)
    assert on_programme_page(client, programme, "awards",
                             {"provider_id": provider.id, "contract_price": "60", "quota": "100"}).status_code == 302
    assert on_programme_page(client, programme, "open").status_code == 302
    resident = factories.resident(community)
    young = on_programme_page(client, programme, "enrolments",
                              {"phone": resident.phone, "birth_date": "1990-01-01", "lives_alone": "y"})
    assert young.status_code == 422 and "The resident is under 60." in young.get_data(as_text=True)
    ok = on_programme_page(client, programme, "enrolments",
                           {"phone": resident.phone, "birth_date": "1950-01-01", "lives_alone": "y"})
    assert ok.status_code == 302
    assert entitlements.active_enrolments(db.session, resident)[0].programme_id == programme.id


def test_a_resident_books_with_the_entitlement_and_is_refused_when_it_is_used_up(client, auth, en):
    programme, award, listing, member, official, community = open_programme(allowance=1)
    resident = enrolled_resident(programme, official, community)
    auth.login(resident)
    page = client.get("/my/entitlements").get_data(as_text=True)
    assert "1 visit left in 2026-11" in page and f"/my/entitlements/book/{listing.id}" in page
    first_at, second_at = factories.next_slot(listing, 1), factories.next_slot(listing, 2)
    # The day first, then its time, as a person picks them (two tabs, one per day).
    book = open_page(client, f"/my/entitlements/book/{listing.id}?day={local(first_at).date().isoformat()}")
    other_tab = open_page(client, f"/my/entitlements/book/{listing.id}?day={local(second_at).date().isoformat()}")
    first = book.submit(fields={"starts_at": slot_value(first_at), "address": "3号楼"})
    assert first.status_code == 302
    booking = db.session.scalar(sa.select(Booking))
    assert entitlements.use_of(db.session, booking.id) is not None
    assert "Paid by a purchase programme" in client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    # The booking page opened before the first booking, in a second tab.
    second = other_tab.submit(fields={"starts_at": slot_value(second_at), "address": "3号楼"})
    assert second.status_code == 409
    assert "Your allowance for 2026-11 is used up" in second.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_pages_are_for_their_roles(client, auth):
    programme, award, listing, member, official, community = open_programme()
    resident = factories.resident(community)
    auth.login(resident)
    assert client.get("/official/programmes").status_code == 403
    assert client.get(f"/official/programmes/{programme.id}/budget").status_code == 403
    auth.logout()
    auth.login(member)
    assert client.get("/my/entitlements").status_code == 403
    auth.logout()
    assert client.get("/programmes").status_code == 200
    auth.login(official)
    assert client.get("/official/programmes").status_code == 200
    resident = enrolled_resident(programme, official, community)
    booking = entitlements.book_with_entitlement(db.session, resident, listing_id=listing.id,
                                                 starts_at=factories.next_slot(listing, 1), address="楼下")
    db.session.commit()
    page = client.get(f"/official/programmes/{programme.id}").get_data(as_text=True)
    assert f"/official/bookings/{booking.id}" in page and "¥60.00" in page


def test_the_listing_page_offers_the_entitlement_to_an_enrolled_resident_only(client, auth, en):
    programme, award, listing, member, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    auth.login(resident)
    assert f"/my/entitlements/book/{listing.id}" in client.get(f"/listings/{listing.id}").get_data(as_text=True)
    auth.logout()
    auth.login(factories.resident(community))
    assert "/my/entitlements/book/" not in client.get(f"/listings/{listing.id}").get_data(as_text=True)
