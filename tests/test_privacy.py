"""Contact masking: the pure rules, what a provider sees at each status and after 30
days, and officials' reveal with a recorded reason."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from providers.bookings import privacy, services
from providers.bookings.models import BookingStatus as S, ContactAccess
from tests import factories
from tests.test_booking_pages import advance, html, setting, utc
from tests.forms import open_page, submit
from tests.carer_helpers import carer_for

PHONE = "13812345678"
ADDRESS = "城里社区3号楼2单元101"


# --- pure rules -------------------------------------------------------------------------


def test_mask_phone():
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_phone(" 13812345678 ") == "138****5678"
    assert privacy.mask_phone("12345678") == "123****5678"
    assert privacy.mask_phone("1234567") == "****"
    assert privacy.mask_phone("") == privacy.mask_phone(None) == "****"


def test_mask_address_keeps_only_the_first_few_characters():
    assert privacy.mask_address(ADDRESS) == "城里社区****"
    assert privacy.mask_address("  城里社区3号楼101 ") == "城里社区****"
    assert privacy.mask_address("城里社区3号楼") == "城里社****"  # 7 characters: 3 kept
    assert privacy.mask_address("3号楼") == "3****"  # short: at most half is kept
    assert privacy.mask_address("楼") == "****"
    assert privacy.mask_address(None) == "****"


@pytest.mark.parametrize("status, visible", [
    (S.REQUESTED, False), (S.ACCEPTED, True), (S.IN_SERVICE, True), (S.DECLINED, False),
    (S.EXPIRED, False), (S.CANCELLED_BY_RESIDENT, False), (S.CANCELLED_BY_PROVIDER, False),
    (S.NO_SHOW_PROVIDER, False), (S.NO_SHOW_RESIDENT, False),
])
def test_the_provider_sees_the_contact_only_while_serving(status, visible):
    from app.clock import now

    booking = SimpleNamespace(status=status, completed_at=None)
    assert privacy.provider_sees_contact(booking, now(), days=30) is visible


def test_a_completed_booking_hides_the_contact_once_30_days_have_passed():
    from app.clock import now

    done = now()
    booking = SimpleNamespace(status=S.COMPLETED, completed_at=done)
    assert privacy.provider_sees_contact(booking, done + timedelta(days=30, seconds=-1), days=30)
    assert not privacy.provider_sees_contact(booking, done + timedelta(days=30), days=30)
    assert not privacy.provider_sees_contact(SimpleNamespace(status=S.COMPLETED, completed_at=None), done, days=30)


# --- what the pages show ------------------------------------------------------------------


def _resident(listing):
    return factories.resident(listing.communities[0], phone=PHONE)


def _provider_page(client, booking) -> str:
    return html(client.get(f"/provider/bookings/{booking.id}"))


@pytest.mark.parametrize("status, visible", [
    (S.REQUESTED, False), (S.ACCEPTED, True), (S.IN_SERVICE, True), (S.COMPLETED, True),
    (S.DECLINED, False), (S.CANCELLED_BY_RESIDENT, False), (S.CANCELLED_BY_PROVIDER, False),
])
def test_the_provider_page_masks_the_contact_by_status(client, auth, en, clock, status, visible):
    listing, staff, _ = setting()
    booking = factories.booking(listing, _resident(listing), starts_at=utc("2026-11-03", 9), address=ADDRESS)
    advance(booking, status, staff, clock)
    auth.login(staff)
    page = _provider_page(client, booking)
    assert (PHONE in page, ADDRESS in page) == (visible, visible), status
    assert ("138****5678" in page and "城里社区****" in page) is not visible
    if status == S.REQUESTED:
        assert "shown once you accept the booking" in page


def test_the_provider_loses_the_contact_30_days_after_completion(client, auth, en, clock):
    listing, staff, _ = setting()
    booking = advance(factories.booking(listing, _resident(listing), starts_at=utc("2026-11-03", 9),
                                        address=ADDRESS), S.COMPLETED, staff, clock)
    auth.login(staff)
    clock.set(booking.completed_at + timedelta(days=30) - timedelta(minutes=1))
    assert PHONE in _provider_page(client, booking)
    clock.set(booking.completed_at + timedelta(days=30))
    page = _provider_page(client, booking)
    assert PHONE not in page and ADDRESS not in page and "138****5678" in page
    assert "hidden 30 days after completion" in page


def test_the_resident_sees_their_own_contact(client, auth, en):
    listing, _staff, _ = setting()
    resident = _resident(listing)
    booking = factories.booking(listing, resident, address=ADDRESS)
    auth.login(resident)
    page = html(client.get(f"/bookings/{booking.id}"))
    assert PHONE in page and ADDRESS in page


# --- officials ----------------------------------------------------------------------------------


def _accesses() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ContactAccess))


def _audits(booking) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "booking.contact_viewed", AuditEvent.object_id == booking.id))


def reveal(client, booking, reason):
    """The official booking page's "show the contact" form, as rendered."""
    return submit(client, f"/official/bookings/{booking.id}", action=f"/official/bookings/{booking.id}/contact",
                  fields={"reason": reason})


def test_an_official_sees_the_contact_only_with_a_recorded_reason(client, auth, en):
    listing, staff, _ = setting()
    booking = advance(factories.booking(listing, _resident(listing), address=ADDRESS), S.ACCEPTED, staff)
    official = factories.official()
    auth.login(official)
    page = html(client.get(f"/official/bookings/{booking.id}"))
    assert PHONE not in page and ADDRESS not in page and "138****5678" in page and "城里社区****" in page
    assert "No official has looked at them." in page

    for reason in ("", "   "):
        response = reveal(client, booking, reason)
        assert response.status_code == 422
        assert 'id="reason-error"' in html(response) and PHONE not in html(response)
    response = reveal(client, booking, "r" * 1001)
    assert response.status_code == 422 and "too long" in html(response)
    assert (_accesses(), _audits(booking)) == (0, 0)

    response = reveal(client, booking, "complaint 17: safety check")
    assert response.status_code == 200
    page = html(response)
    assert PHONE in page and ADDRESS in page and "Your access to these contact details is recorded." in page
    access = db.session.scalar(sa.select(ContactAccess).where(ContactAccess.booking_id == booking.id))
    assert (access.official_id, access.reason) == (official.id, "complaint 17: safety check")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.contact_viewed"))
    assert (event.actor_id, event.object_type, event.object_id, event.reason) == (
        official.id, "booking", booking.id, "complaint 17: safety check")
    page = html(client.get(f"/official/bookings/{booking.id}"))  # masked again; the access is listed
    assert PHONE not in page and "complaint 17: safety check" in page and official.name in page


def test_only_officials_reach_the_official_booking_page(client, auth, db_session):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident)
    for user in (resident, staff):
        auth.login(user)
        assert client.get(f"/official/bookings/{booking.id}").status_code == 403
        # Access rules: the page is refused, so the posts are hand-made.
        assert client.post(f"/official/bookings/{booking.id}/contact", data={"reason": "x"}).status_code == 403
        assert client.post(f"/official/bookings/{booking.id}/no-show", data={"reason": "x"}).status_code == 403
        auth.logout()
    assert _accesses() == 0
    auth.login(factories.admin())
    assert client.get(f"/official/bookings/{booking.id}").status_code == 200
    assert client.get("/official/bookings/999999").status_code == 404


def test_an_official_confirms_a_provider_no_show_with_a_reason(client, auth, en, db_session):
    listing, staff, _ = setting()
    booking = advance(factories.booking(listing, _resident(listing)), S.ACCEPTED, staff)
    auth.login(factories.official())
    url, no_show = f"/official/bookings/{booking.id}", f"/official/bookings/{booking.id}/no-show"
    response = submit(client, url, action=no_show, fields={"reason": ""})
    assert response.status_code == 422 and "Give a reason" in html(response)
    db_session.expire_all()
    assert booking.status == S.ACCEPTED
    opened = open_page(client, url)
    response = opened.submit(action=no_show, fields={"reason": "resident's call log"})
    assert response.status_code == 302
    db_session.expire_all()
    assert (booking.status, booking.status_reason) == (S.NO_SHOW_PROVIDER, "resident's call log")
    response = opened.submit(action=no_show, fields={"reason": "again"})  # the same page again
    assert response.status_code == 409 and "cannot become" in html(response)


def test_reveal_to_official_refuses_anyone_else(db_session):
    listing, staff, resident = setting()
    booking = factories.booking(listing, resident)
    from app.errors import Forbidden

    with pytest.raises(Forbidden):
        privacy.reveal_to_official(db_session, booking, staff, "curious")
    assert _accesses() == 0
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))  # the rules do not depend on the status
    contact = privacy.reveal_to_official(db_session, booking, factories.official(), "audit")
    assert not contact.masked and contact.phone == resident.phone
