"""Funding is a fact of the booking: stored when it is made, tied to its award by a CHECK,
read by billing through one function and dispatched through the funding registry;
payments refuse a programme-funded booking."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from billing import funding, payments
from billing.funding import FundingRegistry, FundingRules, funding_of
from billing.ledger import balance
from billing.payment_models import Payment
from billing.programmes import entitlements
from providers.bookings import services
from providers.bookings.models import Booking, BookingFunding, BookingStatus, Funding
from tests import factories
from tests.billing_helpers import accepted_booking
from tests.forms import submit
from tests.programme_helpers import enrolled_resident, open_programme
from tests.carer_helpers import carer_for

ROOT = Path(__file__).resolve().parent.parent


def payments_of(booking) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(Payment.booking_id == booking.id))


@pytest.fixture
def programme_booking(clock):
    """An accepted booking paid by a purchase programme, and its provider staff, award and resident."""
    programme, award, listing, member, official, community = open_programme(contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, 2), address="城里社区3号楼")
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    return booking, member, award


def test_a_booking_with_an_entitlement_stores_its_funding_and_award(programme_booking):
    booking, _member, award = programme_booking
    db.session.expire(booking)
    assert (booking.funding, booking.programme_award_id) == (Funding.PROGRAMME, award.id)
    assert funding_of(booking) == BookingFunding.programme(award.id)
    assert entitlements.use_of(db.session, booking.id).award_id == award.id
    assert "linli.entitlement_booking" not in db.session.info  # nothing passed sideways


def test_an_ordinary_booking_is_resident_paid(db_session):
    booking = factories.booking()
    db_session.expire(booking)
    assert funding_of(booking) == BookingFunding(Funding.RESIDENT, None)


@pytest.mark.parametrize("kind, award", [(Funding.PROGRAMME, None), (Funding.RESIDENT, "award")])
def test_the_database_ties_funding_to_its_award(programme_booking, kind, award):
    booking, _member, programme_award = programme_booking
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.update(Booking).where(Booking.id == booking.id).values(
                funding=kind, programme_award_id=programme_award.id if award else None))
    db.session.expire(booking)
    assert funding_of(booking) == BookingFunding.programme(programme_award.id)


def test_paying_a_programme_funded_booking_is_409_and_creates_nothing(programme_booking, auth, en):
    booking, _member, _award = programme_booking
    assert payments_of(booking) == 0
    auth.login(booking.resident)
    # Deliberately raw: the page offers no Pay button for a programme-funded booking.
    response = en.post(f"/bookings/{booking.id}/pay")
    assert response.status_code == 409
    assert "paid by a purchase programme" in response.get_data(as_text=True)
    assert payments_of(booking) == 0
    assert balance(db.session, "resident_clearing") == 0


def test_no_way_of_making_a_payment_accepts_a_programme_funded_booking(programme_booking):
    booking, _member, _award = programme_booking
    with pytest.raises(payments.NotResidentPaid) as refused:
        payments.create_payment(db.session, booking)
    assert refused.value.status == 409
    assert not payments.payment_due(db.session, booking, BookingStatus.ACCEPTED)
    assert payments_of(booking) == 0


def test_a_resident_paid_booking_still_pays(db_session, auth, en):
    booking, _member = accepted_booking()
    auth.login(booking.resident)
    paid = submit(en, f"/bookings/{booking.id}", action=f"/bookings/{booking.id}/pay")
    assert paid.status_code == 303 and paid.location.endswith(f"/bookings/{booking.id}/pay")
    assert payments_of(booking) == 1


def test_the_registry_dispatches_on_funding_and_refuses_an_unknown_one(app):
    seen = []
    registry = FundingRegistry()
    registry.register(FundingRules(Funding.RESIDENT, booking_changed=lambda session, **kw: seen.append(kw["new"])))
    resident_paid = Booking(funding=Funding.RESIDENT, programme_award_id=None)
    registry.rules_for(resident_paid).booking_changed(None, booking=resident_paid, old=None,
                                                      new=BookingStatus.REQUESTED, actor=None)
    assert seen == [BookingStatus.REQUESTED]
    with pytest.raises(LookupError, match="programme funding"):
        registry.rules_for(Booking(funding=Funding.PROGRAMME, programme_award_id=1))
    assert [rules.funding for rules in funding.registry.all()] == [Funding.RESIDENT, Funding.PROGRAMME]


def test_every_booking_status_has_one_money_meaning():
    groups = [funding.HOLDS_MONEY, funding.EARNS_MONEY, funding.RELEASES_MONEY]
    assert set().union(*groups) == set(BookingStatus)
    assert sum(len(group) for group in groups) == len(BookingStatus)


# The package's __init__ registers its sub-packages; the supervision receivers read programme
# awards for a sanction's effect (issue 11, item 5, moves that money effect into billing).
NOT_CORE = {"__init__.py", "supervision_receivers.py"}


def test_the_billing_core_does_not_import_the_programmes_package():
    offenders = []
    for path in sorted(p for p in (ROOT / "billing").glob("*.py") if p.name not in NOT_CORE):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {name}" for name in names if name.startswith("billing.programmes")]
    assert offenders == []
