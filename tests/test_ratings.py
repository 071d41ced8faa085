"""Ratings: who may rate and when, scores 1–5, one rating and one reply, hiding by
officials, and the listing's public figures always matching its visible ratings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
import sqlalchemy as sa

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from providers.bookings import services as bookings
from providers.catalogue import bayesian_mean
from providers.models import Listing
from ratings import services
from ratings.models import Rating
from ratings.services import refresh_listing_rating
from tests import factories
from tests.forms import open_page, submit
from tests.rating_helpers import accepted_booking, audit_events, completed_booking, notifications
from tests.helpers import count

GOOD = {"overall": "5", "timeliness": "4", "quality": "5", "attitude": "4", "comment": "准时，干净。"}


@pytest.fixture
def client(client):
    client.set_cookie("linli_lang", "en")
    return client


def rate(session, booking, **changes):
    values = {"overall": 4, "timeliness": 4, "quality": 4, "attitude": 4, "comment": ""}
    values.update(changes)
    return services.rate_booking(session, booking.resident, booking.id, **values)


# --- rating a booking ---------------------------------------------------------------


def test_resident_rates_a_completed_booking_through_the_page(client, auth, clock):
    booking, staff = completed_booking(clock)
    auth.login(booking.resident)
    page = client.get(f"/bookings/{booking.id}/rate")
    assert page.status_code == 200 and "Publish my rating" in page.get_data(as_text=True)

    response = submit(client, f"/bookings/{booking.id}/rate", fields=GOOD)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/bookings/{booking.id}/rate")
    rating = db.session.scalar(sa.select(Rating).where(Rating.booking_id == booking.id))
    assert (rating.overall, rating.timeliness, rating.quality, rating.attitude) == (5, 4, 5, 4)
    assert rating.comment == "准时，干净。" and rating.provider_id == booking.provider_id
    assert rating.created_at == clock.now()
    listing = db.session.get(Listing, booking.listing_id)
    assert (listing.rating_sum, listing.rating_count) == (5, 1)
    received = notifications("rating.received", staff.id)
    assert len(received) == 1 and received[0].params["stars"] == 5

    shown = client.get(f"/bookings/{booking.id}/rate").get_data(as_text=True)
    assert "Your rating" in shown and "准时，干净。" in shown and "Publish my rating" not in shown


def test_rating_twice_is_refused_and_leaves_one_row(client, auth, clock):
    booking, _ = completed_booking(clock)
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}/rate")
    assert page.submit(fields=GOOD).status_code == 302
    again = page.submit(fields={**GOOD, "overall": "1"})  # the same page again (a second tab)
    assert again.status_code == 409
    assert "already rated" in again.get_data(as_text=True)
    assert count(Rating, Rating.booking_id == booking.id) == 1
    assert db.session.get(Listing, booking.listing_id).rating_sum == 5


def test_a_race_to_rate_twice_is_caught_by_the_unique_constraint(db_session, clock, monkeypatch):
    booking, _ = completed_booking(clock)
    rate(db_session, booking, overall=5)
    db_session.commit()
    # The second request's check ran before the first one's row existed.
    monkeypatch.setattr(services, "rating_of_booking", lambda session, booking_id: None)
    with force_locale("en"), pytest.raises(Conflict, match="already rated"):
        rate(db_session, booking, overall=1)
    db_session.rollback()
    assert count(Rating, Rating.booking_id == booking.id) == 1
    assert db_session.get(Listing, booking.listing_id).rating_sum == 5


def test_someone_elses_booking_is_a_404_and_nothing_is_written(client, auth, clock):
    booking, _ = completed_booking(clock)
    neighbour = factories.resident(booking.community)
    auth.login(neighbour)
    assert client.get(f"/bookings/{booking.id}/rate").status_code == 404
    assert client.post(f"/bookings/{booking.id}/rate", data=GOOD).status_code == 404  # no page: hand-made
    assert client.get("/bookings/999999/rate").status_code == 404
    assert count(Rating) == 0
    with pytest.raises(NotFound):
        services.rate_booking(db.session, neighbour, booking.id, overall=5, timeliness=5, quality=5, attitude=5)


def test_only_a_completed_booking_can_be_rated(client, auth, clock):
    requested = factories.booking()
    accepted, _ = accepted_booking()
    for booking in (requested, accepted):
        auth.login(booking.resident)
        page = client.get(f"/bookings/{booking.id}/rate")
        assert page.status_code == 200 and "Only a completed booking can be rated" in page.get_data(as_text=True)
        # The page offers no form yet: the post is hand-made, to test the guard.
        response = client.post(f"/bookings/{booking.id}/rate", data=GOOD)
        assert response.status_code == 409
        assert "Only a completed booking can be rated" in response.get_data(as_text=True)
        auth.logout()
    assert count(Rating) == 0


def test_the_rating_window_is_14_days_after_completion_boundary_included(db_session, clock):
    first, staff = completed_booking(clock)
    second, _ = completed_booking(clock, first.listing, first.resident, staff)
    clock.set(first.completed_at + timedelta(days=14))  # exactly at the end: still allowed
    rate(db_session, first)
    db_session.commit()
    clock.set(second.completed_at + timedelta(days=14, seconds=1))
    with force_locale("en"), pytest.raises(Conflict, match="14 days"):
        rate(db_session, second)
    db_session.rollback()
    assert count(Rating) == 1


def test_the_window_follows_the_configuration(app, db_session, clock):
    booking, _ = completed_booking(clock)
    app.config["RATING_WINDOW_DAYS"] = 2
    try:
        clock.set(booking.completed_at + timedelta(days=3))
        with pytest.raises(Conflict):
            rate(db_session, booking)
    finally:
        app.config["RATING_WINDOW_DAYS"] = 14


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("overall", "6", "must be from 1 to 5 stars (you gave 6)"),
        ("overall", "0", "must be from 1 to 5 stars (you gave 0)"),
        ("timeliness", "abc", "must be a whole number of stars from 1 to 5"),
        ("quality", "4.5", "must be a whole number of stars from 1 to 5"),
        ("overall", "", "Choose the overall score: 1 to 5 stars"),
        ("comment", "长" * 1001, "too long (1000 characters at most)"),
    ],
)
def test_bad_scores_and_comments_are_refused_with_a_specific_message(client, auth, clock, field, value, message):
    booking, _ = completed_booking(clock)
    auth.login(booking.resident)
    if field == "comment" or value == "":
        response = submit(client, f"/bookings/{booking.id}/rate", fields={**GOOD, field: value or None})
    else:  # a score the stars do not offer: a tampered body, posted raw on purpose
        response = client.post(f"/bookings/{booking.id}/rate", data={**GOOD, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(Rating) == 0
    listing = db.session.get(Listing, booking.listing_id)
    assert (listing.rating_sum, listing.rating_count) == (0, 0)
    assert notifications("rating.received") == []


def test_the_service_checks_scores_from_json_too(db_session, clock):
    booking, _ = completed_booking(clock)
    for bad in (6, 0, -1, "abc", True, 4.0, None):
        with pytest.raises(Invalid) as error:
            rate(db_session, booking, overall=bad)
        assert error.value.field == "overall"
    db_session.rollback()
    assert count(Rating) == 0


def test_only_residents_rate(db_session, clock):
    booking, staff = completed_booking(clock)
    with pytest.raises(Forbidden):
        services.rate_booking(db_session, staff, booking.id, overall=5, timeliness=5, quality=5, attitude=5)


# --- the listing's public figures --------------------------------------------------


def test_aggregates_match_the_visible_ratings_after_create_hide_and_unhide(db_session, clock):
    first, staff = completed_booking(clock)
    second, _ = completed_booking(clock, first.listing, None, staff)
    official = factories.official()
    r1 = rate(db_session, first, overall=5)
    r2 = rate(db_session, second, overall=2)
    listing = db_session.get(Listing, first.listing_id)

    def figures():
        db_session.flush()
        visible = db_session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Rating.overall), 0), sa.func.count())
            .where(Rating.listing_id == listing.id, Rating.hidden_at.is_(None))
        ).one()
        assert (listing.rating_sum, listing.rating_count) == tuple(visible)
        return listing.rating_sum, listing.rating_count

    assert figures() == (7, 2)
    services.hide_rating(db_session, official, r2.id, "含有电话号码")
    assert figures() == (5, 1)
    services.unhide_rating(db_session, official, r2.id, "电话号码已核实为机构电话")
    assert figures() == (7, 2)
    services.hide_rating(db_session, official, r1.id, "辱骂")
    assert figures() == (2, 1)
    assert r1.hidden_reason == "辱骂" and count(Rating) == 2  # hidden, still stored


def test_refresh_listing_rating_recomputes_from_the_ratings(db_session, clock):
    booking, _ = completed_booking(clock)
    rate(db_session, booking, overall=3)
    listing = db_session.get(Listing, booking.listing_id)
    listing.rating_sum, listing.rating_count = 99, 9  # drifted somehow
    db_session.flush()
    refresh_listing_rating(db_session, listing.id)
    assert (listing.rating_sum, listing.rating_count) == (3, 1)
    empty = factories.listing()
    refresh_listing_rating(db_session, empty.id)
    assert (empty.rating_sum, empty.rating_count) == (0, 0)


def test_listing_and_provider_pages_show_published_ratings_without_names(client, clock):
    first, staff = completed_booking(clock)
    second, _ = completed_booking(clock, first.listing, None, staff)
    visible = rate(db.session, first, overall=5, comment="师傅很专业")
    hidden = rate(db.session, second, overall=1, comment="骂人的话")
    services.reply_to_rating(db.session, staff, visible.id, "谢谢您的认可")
    services.hide_rating(db.session, factories.official(), hidden.id, "辱骂")
    db.session.commit()

    for url in (f"/listings/{first.listing_id}", f"/providers/{first.provider_id}"):
        html = client.get(url).get_data(as_text=True)
        assert "师傅很专业" in html and "谢谢您的认可" in html, url
        assert "骂人的话" not in html, url
        assert first.resident.name not in html and second.resident.name not in html, url
        assert "A resident" in html, url
    listing_html = client.get(f"/listings/{first.listing_id}").get_data(as_text=True)
    assert f"★ {bayesian_mean(5, 1):.1f}" in listing_html and "(1 rating)" in listing_html
    provider_html = client.get(f"/providers/{first.provider_id}").get_data(as_text=True)
    assert f"★ {bayesian_mean(5, 1):.1f}" in provider_html


def test_public_pages_show_the_20_newest(client, clock):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    for n in range(21):
        booking, _ = completed_booking(clock, listing, None, staff)
        rate(db.session, booking, comment=f"评价{n:02d}号")
    db.session.commit()
    html = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "评价20号" in html and "评价01号" in html and "评价00号" not in html
    assert html.index("评价20号") < html.index("评价19号")  # newest first
    assert "Showing the 20 newest of 21 ratings." in html


# --- the provider's reply -----------------------------------------------------------


def test_provider_replies_once(client, auth, clock):
    booking, staff = completed_booking(clock)
    rating = rate(db.session, booking)
    db.session.commit()
    auth.login(staff)
    page = client.get("/provider/ratings")
    assert page.status_code == 200 and "Publish the reply" in page.get_data(as_text=True)

    def reply(text, page=None):
        page = page or open_page(client, "/provider/ratings")
        return page.submit(action=f"/provider/ratings/{rating.id}/reply", fields={"reply": text})

    empty = reply("  ")
    assert empty.status_code == 422 and "Write your reply." in empty.get_data(as_text=True)
    long = reply("好" * 1001)
    assert long.status_code == 422
    assert db.session.get(Rating, rating.id).reply is None

    opened = open_page(client, "/provider/ratings")
    assert reply("感谢评价", opened).status_code == 302
    again = reply("再说一次", opened)  # the same page again (a second tab)
    assert again.status_code == 409 and "one reply" in again.get_data(as_text=True)
    stored = db.session.get(Rating, rating.id)
    assert stored.reply == "感谢评价" and stored.replied_by_id == staff.id
    assert len(notifications("rating.replied", booking.resident_id)) == 1
    events = audit_events("rating.replied", rating.id)
    assert len(events) == 1 and events[0].actor_id == staff.id


def test_reply_access_rules(client, auth, clock):
    booking, _ = completed_booking(clock)
    rating = rate(db.session, booking)
    db.session.commit()
    other_staff = factories.staff()
    auth.login(other_staff)
    # Access rules: no page shows these users the form, so the posts are hand-made.
    assert client.post(f"/provider/ratings/{rating.id}/reply", data={"reply": "x"}).status_code == 404
    assert "感谢" not in client.get("/provider/ratings").get_data(as_text=True)
    auth.logout()
    auth.login(booking.resident)
    assert client.post(f"/provider/ratings/{rating.id}/reply", data={"reply": "x"}).status_code == 403
    assert client.get("/provider/ratings").status_code == 403
    assert db.session.get(Rating, rating.id).reply is None


# --- officials: hide and show -------------------------------------------------------


def test_official_hides_with_a_reason_and_sees_hidden_ratings(client, auth, clock):
    booking, staff = completed_booking(clock)
    rating = rate(db.session, booking, overall=1, comment="泄露了师傅的手机号 13800000000")
    db.session.commit()
    official = factories.official()
    auth.login(official)
    assert client.get("/official/ratings").status_code == 200

    hide = f"/official/ratings/{rating.id}/hide"
    refused = submit(client, "/official/ratings", action=hide, fields={"reason": " "})
    assert refused.status_code == 422 and "Give the reason" in refused.get_data(as_text=True)
    assert not db.session.get(Rating, rating.id).is_hidden and audit_events("rating.hidden") == []

    visible = open_page(client, "/official/ratings?shown=visible")
    done = visible.submit(action=hide, fields={"reason": "含个人信息"})  # back to the list it was hidden from
    assert done.status_code == 302 and done.headers["Location"].endswith("/official/ratings?shown=visible")
    assert db.session.get(Rating, rating.id).hidden_by_id == official.id
    [event] = audit_events("rating.hidden", rating.id)
    assert event.reason == "含个人信息" and event.actor_id == official.id
    assert {n.user_id for n in notifications("rating.hidden")} == {booking.resident_id, staff.id}
    assert visible.submit(action=hide, fields={"reason": "again"}).status_code == 409  # the same page again

    hidden_list = client.get("/official/ratings?shown=hidden").get_data(as_text=True)
    assert "泄露了师傅的手机号" in hidden_list and "含个人信息" in hidden_list
    assert "泄露了师傅的手机号" not in client.get("/official/ratings?shown=visible").get_data(as_text=True)
    assert client.get("/official/ratings?shown=nonsense").status_code == 404
    assert "泄露了师傅的手机号" not in client.get(f"/listings/{booking.listing_id}").get_data(as_text=True)

    unhide = f"/official/ratings/{rating.id}/unhide"
    assert submit(client, "/official/ratings?shown=hidden", action=unhide, fields={"reason": ""}).status_code == 422
    hidden_page = open_page(client, "/official/ratings?shown=hidden")
    assert hidden_page.submit(action=unhide, fields={"reason": "误判"}).status_code == 302
    assert not db.session.get(Rating, rating.id).is_hidden
    assert [e.reason for e in audit_events("rating.unhidden", rating.id)] == ["误判"]
    assert hidden_page.submit(action=unhide, fields={"reason": "x"}).status_code == 409  # the same page again
    assert client.post("/official/ratings/999999/hide", data={"reason": "x"}).status_code == 404  # no such page


def test_only_officials_hide(client, auth, clock):
    booking, staff = completed_booking(clock)
    rating = rate(db.session, booking)
    db.session.commit()
    for user in (booking.resident, staff):
        auth.login(user)
        assert client.get("/official/ratings").status_code == 403
        # Access rule: no page shows them the form, so the post is hand-made.
        assert client.post(f"/official/ratings/{rating.id}/hide", data={"reason": "x"}).status_code == 403
        auth.logout()
    assert client.get("/official/ratings").status_code == 302  # anonymous: to the log-in page
    assert not db.session.get(Rating, rating.id).is_hidden
    with pytest.raises(Forbidden):
        services.hide_rating(db.session, staff, rating.id, "x")


def test_forms_need_the_csrf_token(client, auth, clock, csrf_enabled):
    booking, _ = completed_booking(clock)
    submit(client, "/login", fields={"phone": booking.resident.phone, "password": "correct horse 12"})
    # Deliberately raw: the body lacks the token the page renders.
    assert client.post(f"/bookings/{booking.id}/rate", data=GOOD).status_code == 400
    assert count(Rating) == 0
    ok = submit(client, f"/bookings/{booking.id}/rate", fields=GOOD)
    assert ok.status_code == 302 and count(Rating) == 1


def test_a_no_show_booking_cannot_be_rated(db_session, clock):
    booking, staff = accepted_booking()
    clock.set(booking.starts_at)
    bookings.check_in(db_session, booking, staff)
    clock.set(booking.starts_at + timedelta(minutes=30))
    bookings.mark_resident_no_show(db_session, booking, staff)
    with pytest.raises(Conflict):
        rate(db_session, booking)
