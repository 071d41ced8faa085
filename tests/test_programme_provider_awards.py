"""Provider staff see their own organisation's programme awards, and only those."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from billing.programmes import entitlements, programmes
from billing.programmes.provider_awards import awards_of
from providers.bookings import services
from tests import factories
from tests.programme_helpers import enrolled_resident, open_programme, terms, verify_visit
from tests.carer_helpers import carer_for


def _book(resident, listing, days_ahead):
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, days_ahead, 9),
        address="城里社区3号楼")
    db.session.commit()
    return booking


def _served_and_reserved(clock):
    """An award with one visit served, one accepted and one only requested."""
    programme, award, listing, member, official, community = open_programme(contract_price_fen=6000, quota=40)
    resident = enrolled_resident(programme, official, community)
    served, accepted, _requested = _book(resident, listing, 1), _book(resident, listing, 2), _book(resident, listing, 3)
    for booking in (served, accepted):
        services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    clock.set(served.starts_at)
    services.check_in(db.session, served, member)
    clock.set(served.ends_at)
    services.complete(db.session, served, member)
    verify_visit(db.session, served, resident)  # consumed once the resident confirms it
    db.session.commit()
    return programme, award, member, official


def test_the_summary_counts_quota_reserved_and_consumed_visits(clock):
    programme, award, member, _official = _served_and_reserved(clock)
    [summary] = awards_of(db.session, award.provider)
    assert summary.award.id == award.id and summary.programme.id == programme.id
    assert (summary.award.quota_used, summary.award.quota) == (3, 40)
    assert (summary.visits_reserved, summary.visits_consumed) == (1, 1)


def test_the_page_shows_the_providers_own_awards_only(client, auth, en, clock):
    programme, award, member, official = _served_and_reserved(clock)
    other_provider = factories.provider()
    other_member = factories.staff(other_provider)
    other = programmes.create_programme(db.session, official, _terms_for(other_provider))
    secret = programmes.award(db.session, other, official, provider_id=other_provider.id,
                              contract_price_fen=9900, quota=7)
    db.session.commit()
    auth.login(member)
    page = client.get("/provider/programmes")
    html = page.get_data(as_text=True)
    assert '<a href="/provider/programmes">Government programmes</a>' in html  # the nav link
    assert page.status_code == 200
    assert f'id="award-{award.id}"' in html and programme.title in html
    assert "2026-11-01 – 2027-10-31" in html and "¥60.00" in html
    assert "3 of 40" in html and 'class="reserved">1<' in html and 'class="consumed">1<' in html
    assert "Open for enrolment and booking" in html
    assert f'id="award-{secret.id}"' not in html and "¥99.00" not in html
    api = client.get("/api/v1/my/programme-awards")
    assert api.status_code == 200
    assert [a["award_id"] for a in api.json] == [award.id]
    assert api.json[0] == {
        "award_id": award.id, "programme_id": programme.id, "programme_title": programme.title,
        "programme_status": "open", "start_date": "2026-11-01", "end_date": "2027-10-31",
        "contract_price_fen": 6000, "quota": 40, "quota_used": 3, "visits_reserved": 1, "visits_consumed": 1}
    auth.logout()
    auth.login(other_member)
    theirs = client.get("/api/v1/my/programme-awards").json
    assert [a["award_id"] for a in theirs] == [secret.id]
    assert f'id="award-{award.id}"' not in client.get("/provider/programmes").get_data(as_text=True)


def test_residents_officials_and_strangers_are_kept_out(client, auth):
    assert client.get("/provider/programmes").status_code in (302, 401)
    assert client.get("/api/v1/my/programme-awards").status_code == 401
    auth.login(factories.resident())
    assert client.get("/provider/programmes").status_code == 403
    assert client.get("/api/v1/my/programme-awards").status_code == 403
    auth.logout()
    auth.login(factories.official())
    assert client.get("/api/v1/my/programme-awards").status_code == 403


def test_a_provider_without_awards_sees_an_empty_page(client, auth, en):
    member = factories.staff(factories.provider())
    auth.login(member)
    page = client.get("/provider/programmes").get_data(as_text=True)
    assert "no programme awards yet" in page
    assert client.get("/api/v1/my/programme-awards").json == []


def _terms_for(provider):
    return terms([provider.communities[0].id])


def test_awards_are_listed_newest_programme_first(db_session):
    official, provider = factories.official(), factories.provider()
    older = programmes.create_programme(db.session, official, terms([provider.communities[0].id]))
    newer = programmes.create_programme(db.session, official, terms([provider.communities[0].id],
                                                                     start_date=date(2027, 1, 1),
                                                                     end_date=date(2027, 6, 30)))
    for programme in (older, newer):
        programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=100, quota=1)
    db.session.commit()
    assert [s.programme.id for s in awards_of(db.session, provider)] == [newer.id, older.id]
    assert all((s.visits_reserved, s.visits_consumed) == (0, 0) for s in awards_of(db.session, provider))
