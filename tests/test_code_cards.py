"""Issue 13, code cards: the community office prints one-time codes for a resident
without a phone.  Issuing shows the 20 codes once (only digests are stored), each code
works once, a lost card is revoked with a reason, and one card per resident is in use —
the service checks it and a partial unique index decides it."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.audit import AuditEvent
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from providers.visits import cards
from providers.visits.models import CardCode, CodeCard
from tests import factories
from tests.form_submit import rendered_form, submit

pytestmark = pytest.mark.usefixtures("english_messages")


def resident_with_bookings(n: int):
    """A resident and ``n`` bookings of theirs (on different days)."""
    listing = factories.listing()
    resident = factories.resident(listing.communities[0])
    return resident, [factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=day))
                      for day in range(1, n + 1)]


def printed_codes(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [code.get_text().replace(" ", "") for code in soup.select(".card-codes .code")]


def issue_on_the_page(client, resident):
    url = f"/official/residents/{resident.id}/cards"
    page = client.get(url)
    assert page.status_code == 200
    return submit(client, page.get_data(as_text=True), url)


def test_issuing_a_card_shows_its_codes_once_ready_to_print(client, auth):
    resident, official = factories.resident(name="王秀英"), factories.official()
    auth.login(official)
    printed = issue_on_the_page(client, resident)
    assert printed.status_code == 200
    html = printed.get_data(as_text=True)
    codes = printed_codes(html)
    assert len(codes) == cards.CODES_PER_CARD == len(set(codes))
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    card = db.session.scalar(sa.select(CodeCard).where(CodeCard.resident_id == resident.id))
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select_one(".card-resident").get_text() == "王秀英"
    assert soup.select_one(".card-number").get_text() == str(card.id)
    assert "Each code works once. Report a lost card to the community office." in html
    assert re.search(r"css/code_card\.[0-9a-f]{12}\.css", html)  # the print stylesheet, by its hashed name
    # Only digests are kept: no code is stored, and the cards page never shows them again.
    digests = set(db.session.scalars(sa.select(CardCode.digest).where(CardCode.card_id == card.id)))
    assert len(digests) == 20 and not digests & set(codes)
    listing = client.get(f"/official/residents/{resident.id}/cards").get_data(as_text=True)
    assert not any(code in listing for code in codes) and "20 of 20" in listing
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "code_card.issued"))
    assert (event.actor_id, event.object_id) == (official.id, resident.id)


def test_a_second_card_while_one_is_in_use_is_refused(client, auth):
    resident, official = factories.resident(), factories.official()
    auth.login(official)
    url = f"/official/residents/{resident.id}/cards"
    before = client.get(url).get_data(as_text=True)  # opened in a tab before the card was issued
    cards.issue(db.session, resident, official)
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "A card is in use." in page
    with pytest.raises(AssertionError):  # no "issue" button while a card is in use
        rendered_form(page, url)
    refused = submit(client, before, url)  # the stale tab's "issue" button
    assert refused.status_code == 409
    assert "already has a card in use" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CodeCard)) == 1


def test_each_code_works_once_and_the_card_counts_down(client, auth, clock):
    resident, (first, second) = resident_with_bookings(2)
    official = factories.official()
    card, codes = cards.issue(db.session, resident, official)
    db.session.commit()
    assert cards.redeem(db.session, first, codes[0]) is True
    assert cards.redeem(db.session, second, codes[0]) is False  # used
    assert cards.redeem(db.session, second, "000000" if "000000" not in codes else "999999") is False
    assert cards.redeem(db.session, second, "12345") is False and cards.redeem(db.session, second, "abcdef") is False
    assert cards.redeem(db.session, second, codes[1]) is True
    db.session.commit()
    used = db.session.scalars(sa.select(CardCode).where(CardCode.used_at.is_not(None)).order_by(CardCode.position))
    assert [(row.position, row.booking_id) for row in used] == [(1, first.id), (2, second.id)]
    assert cards.codes_left(db.session, card) == 18
    auth.login(official)
    assert "18 of 20" in client.get(f"/official/residents/{resident.id}/cards").get_data(as_text=True)


def test_a_code_of_another_residents_card_does_not_work(client):
    resident, (booking,) = resident_with_bookings(1)
    other, official = factories.resident(), factories.official()
    _card, codes = cards.issue(db.session, other, official)
    db.session.commit()
    assert cards.redeem(db.session, booking, codes[0]) is False


def test_a_lost_card_is_revoked_with_a_reason_and_its_codes_stop_working(client, auth):
    resident, (booking,) = resident_with_bookings(1)
    official = factories.official()
    card, codes = cards.issue(db.session, resident, official)
    db.session.commit()
    auth.login(official)
    url = f"/official/residents/{resident.id}/cards"
    page = client.get(url).get_data(as_text=True)
    refused = submit(client, page, f"/official/cards/{card.id}/revoke", reason="")
    assert refused.status_code == 422
    assert "Give a reason: it is recorded." in refused.get_data(as_text=True)
    revoked = submit(client, page, f"/official/cards/{card.id}/revoke", reason="老人说卡片丢失")
    assert revoked.status_code == 302
    db.session.expire_all()
    card = db.session.get(CodeCard, card.id)
    assert card.revoked_at is not None and card.revoke_reason == "老人说卡片丢失"
    assert card.revoked_by_id == official.id
    assert cards.redeem(db.session, booking, codes[5]) is False
    # The same page, still open in another tab, posts its revoke form again.
    again = submit(client, page, f"/official/cards/{card.id}/revoke", reason="再次")
    assert again.status_code == 409
    # A new card may now be issued, and the old one shows as revoked.
    assert issue_on_the_page(client, resident).status_code == 200
    listing = client.get(url).get_data(as_text=True)
    assert "revoked" in listing and "老人说卡片丢失" in listing and "in use" in listing


def test_only_officials_issue_and_revoke(client, auth):
    resident = factories.resident()
    staff = factories.staff()
    with pytest.raises(Forbidden):
        cards.issue(db.session, resident, resident)
    card, _ = cards.issue(db.session, resident, factories.official())
    with pytest.raises(Forbidden):
        cards.revoke(db.session, card, staff, "lost")
    with pytest.raises(Invalid) as no_reason:
        cards.revoke(db.session, card, factories.official(), "  ")
    assert no_reason.value.field == "reason"
    auth.login(resident)
    assert client.get(f"/official/residents/{resident.id}/cards").status_code == 403
    assert client.post(f"/official/cards/{card.id}/revoke", data={"reason": "x"}).status_code == 403


def test_the_database_keeps_one_card_in_use_per_resident():
    """Two requests racing past the service's check still make one active card."""
    resident, official = factories.resident(), factories.official()
    cards.issue(db.session, resident, official)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(CodeCard(resident_id=resident.id, issued_by_id=official.id))
            db.session.flush()
    # A revoked card does not count: the active one and any number of revoked ones coexist.
    active = cards.active_card(db.session, resident.id)
    cards.revoke(db.session, active, official, "遗失")
    cards.issue(db.session, resident, official)
    db.session.commit()
    states = db.session.execute(sa.select(CodeCard.revoked_at.is_(None)).where(CodeCard.resident_id == resident.id))
    assert sorted(state for (state,) in states) == [False, True]


def test_issue_checks_before_the_index_with_a_clear_message():
    resident, official = factories.resident(), factories.official()
    cards.issue(db.session, resident, official)
    with pytest.raises(Conflict) as refused:
        cards.issue(db.session, resident, official)
    assert "revoke it first" in str(refused.value)
