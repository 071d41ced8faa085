"""Suspension has one meaning: ``Provider.takes_bookings_at`` (and its SQL twin).

An official's vetting suspension (status *suspended*) and a supervision sanction
(``suspended_until``) both mean "no new bookings, services hidden"; the catalogue,
the public page, the booking refusal and the catalogue cache's key all ask the
same question.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.clock import now
from app.errors import Conflict, NotFound
from app.extensions import db
from providers import catalogue, catalogue_cache, sanctions
from providers.bookings import services as bookings
from providers.models import Provider, ProviderStatus
from tests import factories

# (status, sanction end relative to the moment asked about, or None) → takes bookings?
CASES = [
    (status, offset, status == ProviderStatus.ACTIVE and (offset is None or offset <= timedelta(0)))
    for status in ProviderStatus
    for offset in (None, timedelta(days=-1), timedelta(0), timedelta(seconds=1), timedelta(days=30))
]


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


def test_the_python_answer_and_the_sql_answer_agree_for_every_status_and_moment(db_session):
    at = now()
    expected = {}
    for status, offset, takes in CASES:
        provider = factories.provider(status=status, suspended_until=None if offset is None else at + offset)
        assert provider.takes_bookings_at(at) is takes, (status, offset)
        expected[provider.id] = takes
    in_sql = set(db_session.scalars(
        sa.select(Provider.id).where(Provider.id.in_(expected), Provider.takes_bookings_at(at))))
    assert in_sql == {pid for pid, takes in expected.items() if takes}
    assert len(in_sql) == 3  # active: no sanction, one that ended a day ago, one that ends right now


def test_a_sanction_ending_now_has_ended_and_one_ending_in_a_second_has_not(db_session):
    at = now()
    provider = factories.provider(suspended_until=at + timedelta(seconds=1))
    assert not provider.takes_bookings_at(at) and provider.suspension_ends_after(at) == at + timedelta(seconds=1)
    assert provider.takes_bookings_at(at + timedelta(seconds=1))
    assert provider.suspension_ends_after(at + timedelta(seconds=1)) is None
    # An official's suspension has no end of its own.
    vetted_out = factories.provider(status=ProviderStatus.SUSPENDED)
    assert not vetted_out.takes_bookings_at(at) and vetted_out.suspension_ends_after(at) is None


def _bookable(listing, resident):
    return bookings.request_booking(db.session, resident, listing_id=listing.id,
                                    starts_at=factories.next_slot(listing, days_ahead=2), address="3号楼")


def _shown(listing) -> bool:
    return listing.id in [x.id for x in catalogue.search(db.session, catalogue.CatalogueQuery()).items]


def test_under_a_sanction_every_check_gives_the_same_answer_until_it_lifts_itself(db_session, clock):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    until = sanctions.suspend(db.session, listing.provider, actor=None, reason="test", days=3)
    db.session.commit()
    assert not _shown(listing)
    with pytest.raises(NotFound):
        catalogue.public_listing(db.session, listing.id)
    profile, services = catalogue.public_provider(db.session, listing.provider_id)
    assert profile.id == listing.provider_id and services == []  # the profile stays up, its services do not
    with pytest.raises(Conflict, match="suspended until") as refused:
        _bookable(listing, resident)
    assert refused.value.field == "starts_at"
    db.session.rollback()
    assert catalogue_cache.generation(db.session)[1] == until  # the cache knows when it lifts
    clock.set(until)
    assert _shown(listing)
    assert catalogue.public_listing(db.session, listing.id).id == listing.id
    assert [x.id for x in catalogue.public_provider(db.session, listing.provider_id)[1]] == [listing.id]
    assert _bookable(listing, resident).listing_id == listing.id
    assert catalogue_cache.generation(db.session)[1] is None


def test_an_officials_suspension_hides_the_provider_and_its_page(db_session):
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    listing.provider.status = ProviderStatus.SUSPENDED
    db.session.commit()
    assert not _shown(listing)
    with pytest.raises(NotFound):
        catalogue.public_provider(db.session, listing.provider_id)
    with pytest.raises(NotFound):  # as before: the listing is not public, no "suspended until"
        _bookable(listing, resident)
