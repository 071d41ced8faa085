"""Money clarity and ratings on the resident's pages (issue 14): the payment wording of each
payment kind × state (a cash payment is never "refunded"), a programme-paid booking named
instead of a price, the provider's phone for an accepted booking (logged), the offline payment
page, and the rating form (overall stars required, the rest optional, tags, the rate button
gone once rated)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from billing import payments
from billing.payment_models import Payment, PaymentStatus, Refund, RefundStatus
from billing.payment_shown import payment_shown
from billing.programmes import entitlements
from providers.bookings import services as bookings
from ratings.models import Rating, RatingTag, RatingTagCode
from tests import factories
from tests.billing_helpers import accepted_booking
from tests.forms import open_page, submit
from tests.helpers import count
from tests.programme_helpers import enrolled_resident, open_programme
from tests.rating_helpers import completed_booking

pytestmark = pytest.mark.usefixtures("english_messages")


# --- the wording rule, for each kind of payment and state (no database) -------------------


def _payment(gateway: str, status: PaymentStatus, refunds=(), amount=12000) -> Payment:
    payment = Payment(gateway=gateway, amount_fen=amount, status=status,
                      refunded_fen=sum(r.amount_fen for r in refunds))
    payment.refunds = list(refunds)
    return payment


def _refund(amount: int, status=RefundStatus.SUCCEEDED, fee: int = 0) -> Refund:
    return Refund(amount_fen=amount, late_fee_fen=fee, status=status)


@pytest.mark.parametrize(("gateway", "status", "refunds", "state"), [
    # Cash / transfer to the provider (offline): Linli never holds it, never says "refunded".
    ("offline", PaymentStatus.PENDING, [], "not_paid"),
    ("offline", PaymentStatus.CANCELLED, [], "not_collected"),  # cancelled before paying
    ("offline", PaymentStatus.SUCCEEDED, [], "paid"),
    ("offline", PaymentStatus.SUCCEEDED, [_refund(12000)], "provider_returns"),  # paid, then cancelled
    ("offline", PaymentStatus.SUCCEEDED, [_refund(9600, fee=2400)], "provider_returns"),  # late cancel
    ("offline", PaymentStatus.SUCCEEDED, [_refund(0, fee=12000)], "fee_kept"),  # no-show: all kept
    # Online: "refunded" only once the gateway confirmed the money went back.
    ("stripe", PaymentStatus.PENDING, [], "not_paid"),
    ("stripe", PaymentStatus.CANCELLED, [], "not_charged"),
    ("stripe", PaymentStatus.FAILED, [], "failed"),
    ("stripe", PaymentStatus.SUCCEEDED, [], "paid"),
    ("stripe", PaymentStatus.SUCCEEDED, [_refund(12000, RefundStatus.PENDING)], "refund_pending"),
    ("stripe", PaymentStatus.SUCCEEDED, [_refund(12000)], "refunded"),
    ("stripe", PaymentStatus.SUCCEEDED, [_refund(9600, fee=2400)], "partly_refunded"),
    ("stripe", PaymentStatus.SUCCEEDED, [_refund(0, fee=12000)], "fee_kept"),
])
def test_each_payment_kind_and_state_has_its_true_wording(app, gateway, status, refunds, state):
    with app.test_request_context():
        shown = payment_shown(_payment(gateway, status, refunds))
    assert shown.state == state
    words = f"{shown.label} {shown.note or ''}"
    if gateway == "offline":
        assert "Refunded" not in words and "refunded" not in words.replace("nothing to refund", "")
    if state == "not_collected":
        assert shown.label == "Not collected" and "nothing to refund" in shown.note
    if state == "provider_returns":
        assert "the provider gives" in shown.note and "Linli does not hold this money" in shown.note
    if state == "refunded":
        assert shown.label == "Refunded"


def test_cash_cancelled_before_payment_reads_not_collected_on_the_booking_page(client, auth):
    booking, _member = accepted_booking()
    auth.login(booking.resident)
    submit(client, f"/bookings/{booking.id}", button="Pay now")  # the pending offline payment
    bookings.cancel_by_resident(db.session, booking, booking.resident)
    db.session.commit()
    assert db.session.scalar(sa.select(Payment.status)) == PaymentStatus.CANCELLED
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert 'data-state="not_collected"' in page and "Not collected" in page
    assert "nothing to refund" in page and "Refunded" not in page


def test_cash_paid_then_cancelled_is_to_be_returned_by_the_provider_not_refunded(client, auth, clock):
    booking, _member = accepted_booking()
    payments.confirm_offline_receipt(db.session, booking)
    db.session.commit()
    clock.set(booking.starts_at - timedelta(hours=30))
    bookings.cancel_by_resident(db.session, booking, booking.resident)
    db.session.commit()
    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert 'data-state="provider_returns"' in page and "To be returned by the provider" in page
    assert "Refunded" not in page


# --- a booking a programme pays -------------------------------------------------------------


def test_a_programme_booking_names_its_programme_instead_of_a_price(client, auth):
    programme, _award, listing, _member, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, 1),
        address="城里社区3号楼")
    db.session.commit()
    auth.login(resident)
    said = f"Paid by the government purchase-of-services programme “{programme.title}”."
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert said in page and f"¥{listing.price_fen // 100}" not in page.split("Price", 1)[1].split("</dd>", 1)[0]
    listed = client.get("/bookings").get_data(as_text=True)
    card = listed.split(f'id="booking-{booking.id}"', 1)[1].split("</article>", 1)[0]
    assert said in card and "¥" not in card


def test_a_resident_paid_booking_still_shows_its_price(client, auth):
    booking, _member = accepted_booking()
    auth.login(booking.resident)
    listed = client.get("/bookings").get_data(as_text=True)
    card = listed.split(f'id="booking-{booking.id}"', 1)[1].split("</article>", 1)[0]
    assert "¥120.00" in card and "programme" not in card


# --- the offline payment page -----------------------------------------------------------------


def test_the_offline_payment_page_says_whom_how_and_how_much(client, auth):
    from billing.payment_models import PayoutAccount

    booking, _member = accepted_booking()
    db.session.add(PayoutAccount(provider_id=booking.provider_id, bank_name="淄博银行", bank_account_no="6222020200001234",
                                 account_holder=booking.provider.name))
    db.session.commit()
    auth.login(booking.resident)
    page = submit(client, f"/bookings/{booking.id}", button="Pay now", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert booking.provider.name in text and "¥120.00" in text
    assert "In cash at the visit: give it to " + booking.carer.name[:1] + " (carer)" in text
    assert "6222020200001234" in text and "淄博银行" in text
    assert "The provider confirms when the money has arrived" in text


def test_without_a_bank_account_the_page_offers_cash_only(client, auth):
    booking, _member = accepted_booking()
    auth.login(booking.resident)
    text = submit(client, f"/bookings/{booking.id}", button="Pay now", follow_redirects=True).get_data(as_text=True)
    assert "In cash at the visit" in text and "bank transfer to the provider's account" not in text


# --- how to reach the provider ------------------------------------------------------------------


def test_the_accepted_bookings_resident_sees_the_masked_number_and_the_look_is_logged(client, auth):
    booking, _member = accepted_booking()
    phone = booking.provider.contact_phone
    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    masked = f"{phone[:3]}****{phone[-4:]}"
    assert masked in page and phone not in page
    assert 'id="contact-carer">' + booking.carer.name[:1] + " (carer)" in page
    shown = submit(client, f"/bookings/{booking.id}", button="Show the number and call", follow_redirects=True)
    assert shown.status_code == 200
    assert f'href="tel:{phone}"' in shown.get_data(as_text=True)
    [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "booking.provider_phone_shown"))
    assert event.object_id == booking.id and event.actor_id == booking.resident_id


def test_no_contact_block_before_acceptance_or_after_service_and_the_post_is_refused(client, auth, clock):
    booking, _member = completed_booking(clock)
    auth.login(booking.resident)
    html = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert "How to reach the provider" not in html and booking.provider.contact_phone not in html
    requested = factories.booking()
    auth.logout()
    auth.login(requested.resident)
    html = client.get(f"/bookings/{requested.id}").get_data(as_text=True)
    assert "How to reach the provider" not in html


def test_the_number_form_of_a_booking_no_longer_in_service_is_refused(client, auth, clock):
    booking, member = accepted_booking()
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}")  # rendered while accepted
    clock.set(booking.starts_at)
    bookings.check_in(db.session, booking, member)
    clock.set(booking.ends_at)
    bookings.complete(db.session, booking, member)
    db.session.commit()
    response = page.submit(button="Show the number and call")  # the old tab
    assert response.status_code == 409 and "only while the booking is accepted or in service" in \
        response.get_data(as_text=True)
    assert not db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.provider_phone_shown"))


def test_another_resident_cannot_see_the_number(client, auth):
    booking, _member = accepted_booking()
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}")
    auth.logout()
    auth.login(factories.resident())
    # The form the owner's page rendered, sent by someone else: 404, nothing logged.
    response = page.submit(button="Show the number and call")
    assert response.status_code in (400, 404)
    assert not db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "booking.provider_phone_shown"))


# --- ratings --------------------------------------------------------------------------------------


def test_only_the_overall_stars_are_enough(client, auth, clock):
    booking, _staff = completed_booking(clock)
    auth.login(booking.resident)
    response = submit(client, f"/bookings/{booking.id}/rate", fields={"overall": "4"})
    assert response.status_code == 302
    rating = db.session.scalar(sa.select(Rating))
    assert (rating.overall, rating.timeliness, rating.quality, rating.attitude) == (4, None, None, None)


def test_without_the_overall_stars_every_problem_is_shown_at_once(client, auth, clock):
    booking, _staff = completed_booking(clock)
    auth.login(booking.resident)
    form = open_page(client, f"/bookings/{booking.id}/rate")
    response = form.submit(fields={"timeliness": "3", "comment": "长" * 1001})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There are 2 problems with what you sent" in html
    assert "Choose the overall score: 1 to 5 stars (the other scores are optional)." in html
    assert "too long (1000 characters at most)" in html
    assert 'href="#overall"' in html and 'id="overall"' in html
    assert count(Rating) == 0


def test_tags_are_saved_and_shown_to_the_provider_and_the_public(client, auth, clock):
    booking, staff = completed_booking(clock)
    auth.login(booking.resident)
    response = submit(client, f"/bookings/{booking.id}/rate",
                      fields={"overall": "5", "tags": ["punctual", "tidy"], "comment": "很好"})
    assert response.status_code == 302
    rating = db.session.scalar(sa.select(Rating))
    assert rating.tags == [RatingTagCode.PUNCTUAL, RatingTagCode.TIDY]
    assert sorted(db.session.scalars(sa.select(RatingTag.code))) == ["punctual", "tidy"]
    shown = client.get(f"/bookings/{booking.id}/rate").get_data(as_text=True)
    assert "On time" in shown and "Clean and tidy" in shown
    auth.logout()
    public = client.get(f"/listings/{booking.listing_id}").get_data(as_text=True)
    assert 'id="tag-summary"' in public and "On time ×1" in public
    profile = client.get(f"/providers/{booking.provider_id}").get_data(as_text=True)
    assert "Clean and tidy ×1" in profile
    auth.login(staff)
    mine = client.get("/provider/ratings").get_data(as_text=True)
    assert "On time" in mine and 'data-tag="tidy"' in mine


def test_an_unknown_tag_is_refused_with_the_others_problems(client, auth, clock):
    booking, _staff = completed_booking(clock)
    auth.login(booking.resident)
    # A tag the page does not offer: a tampered body, posted raw on purpose.
    page = open_page(client, f"/bookings/{booking.id}/rate")
    token = page.form().values().get("csrf_token", "")
    response = client.post(f"/bookings/{booking.id}/rate", data={"csrf_token": token, "tags": ["rude!"]})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Unknown tag: rude!" in html and "Choose the overall score" in html
    assert count(Rating) == 0


def test_the_rate_button_goes_once_rated(client, auth, clock):
    booking, _staff = completed_booking(clock)
    auth.login(booking.resident)
    assert f'href="/bookings/{booking.id}/rate"' in client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    submit(client, f"/bookings/{booking.id}/rate", fields={"overall": "3"})
    after = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert "Rate this service" not in after and f'href="/bookings/{booking.id}/rate"' not in after


def test_the_api_takes_the_overall_score_alone_and_tags(client, clock):
    from tests.helpers import bearer

    booking, _staff = completed_booking(clock)
    response = client.post(f"/api/v1/bookings/{booking.id}/rating", json={"overall": 2, "tags": ["late", "careless"]},
                           headers=bearer(booking.resident))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["overall"] == 2 and body["timeliness"] is None and body["tags"] == ["late", "careless"]


def test_demo_reviews_agree_with_their_stars():
    import random

    from ratings.demo import COMMENTS, review_for

    praise = ("非常满意", "整体满意", "很好", "细心", "挺好")
    for score in (1, 2):
        assert not any(word in text for text in COMMENTS[score] for word in praise)
    rng = random.Random(3)
    for _ in range(200):
        comment, tags = review_for(rng, 1, late=False)
        assert all(not tag.positive for tag in tags) and not any(word in comment for word in praise)
        _comment, tags = review_for(rng, 5, late=True)
        assert RatingTagCode.LATE in tags and RatingTagCode.PUNCTUAL not in tags
