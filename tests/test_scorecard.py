"""The provider scorecard: each figure's definition, its evidence, the pages and the API."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from providers.bookings import services
from ratings import scorecard as sc
from ratings.models import Complaint, ComplaintKind, ComplaintStatus, Rating
from tests import factories
from tests.helpers import bearer
from tests.carer_helpers import carer_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROBLEM = "application/problem+json"


def slot(day: int, hour: int = 9) -> datetime:
    """A slot start (UTC) on 2026-11-<day> at ``hour`` local (factory listings: Mon–Fri 9–17)."""
    return datetime(2026, 11, day, hour, tzinfo=SHANGHAI).astimezone(timezone.utc)


def served(listing, clock, starts_at, *, answer_after=timedelta(hours=1), check_in_late=timedelta(0),
           finish_late=timedelta(0), outcome="completed", resident=None):
    """A booking made the day before its start, answered, and then taken to ``outcome``."""
    clock.set(starts_at - timedelta(days=1))
    booking = factories.booking(listing, resident, starts_at=starts_at)
    staff = factories.staff(listing.provider, is_owner=False)
    if outcome == "expired":
        clock.set(booking.respond_by + timedelta(minutes=1))
        services.expire_overdue_requests(db.session)
        db.session.commit()
        return booking
    clock.set(booking.requested_at + answer_after)
    if outcome == "cancelled_by_resident":
        services.cancel_by_resident(db.session, booking, booking.resident)
        db.session.commit()
        return booking
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    if outcome == "accepted":
        db.session.commit()
        return booking
    if outcome == "cancelled_by_provider":
        services.cancel_by_provider(db.session, booking, staff, "师傅生病")
    elif outcome == "no_show_provider":
        clock.set(starts_at + timedelta(minutes=30))
        services.report_provider_no_show(db.session, booking, booking.resident)
        services.confirm_provider_no_show(db.session, booking, staff)
    elif outcome == "no_show_resident":
        clock.set(starts_at)
        services.check_in(db.session, booking, staff)
        clock.set(starts_at + timedelta(minutes=30))
        services.mark_resident_no_show(db.session, booking, staff)
    else:
        clock.set(starts_at + check_in_late)
        services.check_in(db.session, booking, staff)
        clock.set(booking.ends_at + finish_late)
        services.complete(db.session, booking, staff)
    db.session.commit()
    return booking


def rate(booking, overall: int, *, hidden: bool = False, at=None) -> Rating:
    rating = Rating(booking_id=booking.id, resident_id=booking.resident_id, provider_id=booking.provider_id,
                    listing_id=booking.listing_id, overall=overall, timeliness=overall, quality=overall,
                    attitude=overall, comment=f"评分{overall}", created_at=at or booking.ends_at + timedelta(hours=2))
    if hidden:
        rating.hidden_at, rating.hidden_reason = rating.created_at + timedelta(hours=1), "含个人信息"
    db.session.add(rating)
    db.session.commit()
    return rating


def complain(booking, status: ComplaintStatus, decided_at=None) -> Complaint:
    complaint = Complaint(booking_id=booking.id, resident_id=booking.resident_id, provider_id=booking.provider_id,
                          kind=ComplaintKind.LATE, description="迟到了", status=status,
                          created_at=booking.ends_at, respond_by=booking.ends_at + timedelta(hours=48),
                          decided_at=decided_at, decision_reason="核实属实" if decided_at else None)
    db.session.add(complaint)
    db.session.commit()
    return complaint


@pytest.fixture
def history(clock):
    """One provider's November: every kind of outcome once, then 'now' is 1 December."""
    provider = factories.provider()
    listing = factories.listing(provider, title="深度保洁 scorecard", response_hours=4)
    b = {
        "on_time": served(listing, clock, slot(3)),
        "late_start": served(listing, clock, slot(4), check_in_late=timedelta(minutes=30)),
        "late_finish": served(listing, clock, slot(5), finish_late=timedelta(minutes=40)),
        "late_answer": served(listing, clock, slot(6), answer_after=timedelta(hours=5)),
        "expired": served(listing, clock, slot(9), outcome="expired"),
        "cancelled": served(listing, clock, slot(10), outcome="cancelled_by_provider"),
        "no_show": served(listing, clock, slot(11), outcome="no_show_provider"),
        "resident_away": served(listing, clock, slot(12), outcome="no_show_resident"),
        "resident_cancelled": served(listing, clock, slot(13), outcome="cancelled_by_resident"),
    }
    # Another provider's late booking counts only for that provider.
    other = factories.listing(factories.provider())
    b["other"] = served(other, clock, slot(4), check_in_late=timedelta(hours=1))
    ratings = [rate(b["on_time"], 5), rate(b["late_start"], 2), rate(b["late_finish"], 1, hidden=True)]
    complaints = [
        complain(b["late_start"], ComplaintStatus.UPHELD, decided_at=slot(20)),
        complain(b["late_finish"], ComplaintStatus.DISMISSED, decided_at=slot(20)),
        complain(b["late_answer"], ComplaintStatus.OPEN),
    ]
    clock.set(datetime(2026, 12, 1, 12, tzinfo=SHANGHAI))
    staff = factories.staff(provider)
    return {"provider": provider, "listing": listing, "bookings": b, "ratings": ratings,
            "complaints": complaints, "staff": staff}


def ids(*bookings) -> list[int]:
    return sorted(booking.id for booking in bookings)


# --- The definitions -----------------------------------------------------------------------


def test_every_figure_of_a_provider_and_the_rows_behind_it(db_session, history):
    b = history["bookings"]
    card = sc.scorecard(db_session, history["provider"].id, sc.current_window(90), with_ids=True)
    assert card.values() == {
        "finished_bookings": 4, "due_bookings": 8, "late_responses": 2, "late_starts": 1, "late_finishes": 1,
        "late_bookings": 4, "late_rate": 0.5, "provider_cancellations": 1, "provider_no_shows": 1,
        "cancellations_and_no_shows": 2, "cancellation_rate": 0.25, "expired_requests": 1,
        "excluded_bookings": 0,
        "upheld_complaints": 1, "rating_count": 2, "rating_mean": pytest.approx((20 + 7) / 7),
        "rating_raw_mean": 3.5, "expired_documents": 0,
        # Resident-paid bookings only: no programme visits (tests/test_scorecard_visits.py).
        "programme_visits": 0, "verified_visits": 0, "unverified_visits": 0, "verified_rate": 0.0,
        "not_served_visits": 0, "flagged_visits": 0, "flagged_rate": 0.0, "follow_up_calls": 0,
        "follow_up_satisfaction": None,
    }
    assert card["finished_bookings"].ids == ids(b["on_time"], b["late_start"], b["late_finish"], b["late_answer"])
    assert card["due_bookings"].ids == ids(b["on_time"], b["late_start"], b["late_finish"], b["late_answer"],
                                           b["expired"], b["cancelled"], b["no_show"], b["resident_away"])
    assert card["late_responses"].ids == ids(b["late_answer"], b["expired"])
    assert card["late_starts"].ids == ids(b["late_start"])
    assert card["late_finishes"].ids == ids(b["late_finish"])
    assert card["late_rate"].ids == card["late_bookings"].ids == ids(
        b["late_start"], b["late_finish"], b["late_answer"], b["expired"])
    assert card["cancellation_rate"].ids == ids(b["cancelled"], b["no_show"])
    assert card["expired_requests"].ids == ids(b["expired"])
    assert card["upheld_complaints"].ids == [history["complaints"][0].id]
    shown = sorted(r.id for r in history["ratings"][:2])
    assert card["rating_count"].ids == card["rating_mean"].ids == card["rating_raw_mean"].ids == shown


def test_a_value_always_matches_the_rows_behind_it(db_session, history):
    window = sc.current_window(90)
    card = sc.scorecard(db_session, history["provider"].id, window, with_ids=True)
    for key, figure in card.figures.items():
        metric = figure.metric
        if metric.kind == "count":
            assert figure.value == len(figure.ids), key
    # and every metric's own per-provider select agrees with the one-statement figures
    for key, metric in sc.METRICS.items():
        per_provider = dict(db_session.execute(metric.per_provider(window)).all())
        # (a provider without a row has a count of 0, e.g. no excluded bookings, and no mean)
        if card[key].value is None:
            assert per_provider.get(history["provider"].id) is None, key
        else:
            assert per_provider.get(history["provider"].id, 0) == pytest.approx(card[key].value), key


def test_all_providers_at_once_in_one_statement(db_session, history, clock):
    quiet = factories.provider()  # no bookings at all: zeros, the prior mean, no raw mean
    window = sc.current_window(90)
    statements = []
    with counting(statements):
        figures = sc.all_providers(db_session, window)
    assert len(statements) == 1
    mine = figures[history["provider"].id]
    assert mine == sc.scorecard(db_session, history["provider"].id, window).values()
    other = figures[history["bookings"]["other"].provider_id]
    assert (other["late_starts"], other["late_rate"], other["finished_bookings"]) == (1, 1.0, 1)
    assert figures[quiet.id] == {**{k: 0 for k in sc.METRICS}, "late_rate": 0.0, "cancellation_rate": 0.0,
                                 "rating_mean": 4.0, "rating_raw_mean": None, "follow_up_satisfaction": None}


def test_the_window_is_open_at_its_start_and_closed_at_its_end(db_session, history):
    late = history["bookings"]["late_start"]
    pid = history["provider"].id
    at_start = sc.Window(late.starts_at, late.starts_at + timedelta(days=1))
    at_end = sc.Window(late.starts_at - timedelta(days=1), late.starts_at)
    assert sc.scorecard(db_session, pid, at_start)["late_starts"].value == 0
    assert sc.scorecard(db_session, pid, at_end)["late_starts"].value == 1
    # finished counts by completion time, not by start
    completed = late.completed_at
    assert sc.scorecard(db_session, pid, sc.Window(completed - timedelta(seconds=1), completed))[
        "finished_bookings"].value == 1
    assert sc.scorecard(db_session, pid, sc.Window(completed, completed + timedelta(days=1)))[
        "finished_bookings"].value == 0
    with pytest.raises(ValueError):
        sc.Window(late.starts_at, late.starts_at)
    with pytest.raises(ValueError):
        sc.Window(late.starts_at.replace(tzinfo=None), late.starts_at.replace(tzinfo=None) + timedelta(days=1))


def test_a_shorter_window_leaves_older_facts_out(db_session, history, clock):
    clock.set(datetime(2027, 1, 20, tzinfo=SHANGHAI))  # November is more than 30 days back
    pid = history["provider"].id
    assert sc.scorecard(db_session, pid, sc.current_window(30)).values()["due_bookings"] == 0
    assert sc.scorecard(db_session, pid, sc.current_window(90)).values()["due_bookings"] == 8


def test_the_default_window_comes_from_the_setting(app, db_session, clock):
    assert sc.current_window().days == 90
    app.config["SCORECARD_WINDOW_DAYS"] = 30
    try:
        assert sc.current_window().days == 30
        assert sc.current_window().end == clock.now()
    finally:
        app.config["SCORECARD_WINDOW_DAYS"] = 90


# --- The pages -------------------------------------------------------------------------------


@contextmanager
def counting(statements: list):
    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


@pytest.fixture
def english(client):
    client.set_cookie("linli_lang", "en")


def test_the_provider_sees_each_figure_with_what_is_behind_it(client, auth, english, history):
    auth.login(history["staff"])
    page = client.get("/provider/scorecard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Late starts" in html and "Bookings due" in html and "50.0% (4 of 8)" in html
    assert "metric=late_starts" in html
    detail = client.get("/provider/scorecard?metric=late_starts")
    html = detail.get_data(as_text=True)
    late = history["bookings"]["late_start"]
    assert detail.status_code == 200
    assert f"#{late.id}" in html and "深度保洁 scorecard" in html
    assert "2026-11-04 09:00" in html and "2026-11-04 09:30" in html  # local start and check-in
    assert "Checked in 30 min after the start" in html
    assert f"#{history['bookings']['on_time'].id}<" not in html
    # residents' names and phones are not shown to the provider here
    for booking in history["bookings"].values():
        assert booking.resident.name not in html and booking.resident.phone not in html


@pytest.mark.parametrize("metric, expected", [
    ("late_responses", ["No answer by the respond-by time", "Answered 1 h 00 min after the respond-by time"]),
    ("late_finishes", ["Finished 40 min after the end"]),
    ("upheld_complaints", ["核实属实", "id=\"complaint-"]),
    ("rating_mean", ["评分5", "评分2"]),
])
def test_the_evidence_of_other_figures(client, auth, english, history, metric, expected):
    auth.login(history["staff"])
    html = client.get(f"/provider/scorecard?metric={metric}").get_data(as_text=True)
    for text in expected:
        assert text in html, text
    assert "评分1" not in html  # the hidden rating stays out


def test_officials_see_any_providers_scorecard(client, auth, english, history):
    auth.login(factories.official())
    page = client.get(f"/official/providers/{history['provider'].id}/scorecard?days=365&metric=due_bookings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "365 days" in html and f"#{history['bookings']['cancelled'].id}" in html
    assert client.get("/official/providers/999999/scorecard").status_code == 404


def test_who_may_open_which_scorecard(client, auth, history):
    url = f"/official/providers/{history['provider'].id}/scorecard"
    assert client.get("/provider/scorecard").status_code == 302  # anonymous: to log-in
    assert client.get(url).status_code == 302
    auth.login(history["staff"])
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login(factories.resident())
    assert client.get("/provider/scorecard").status_code == 403
    assert client.get(url).status_code == 403


def test_another_provider_sees_only_its_own_figures(client, auth, english, history):
    other_staff = factories.staff(history["bookings"]["other"].provider)
    auth.login(other_staff)
    html = client.get("/provider/scorecard?metric=late_starts").get_data(as_text=True)
    assert f"#{history['bookings']['other'].id}" in html
    assert f"#{history['bookings']['late_start'].id}<" not in html and "深度保洁 scorecard" not in html


@pytest.mark.parametrize("query, message", [
    ("days=7", "Choose a window of 30, 90, 365 days."),
    ("days=abc", "Choose a window of 30, 90, 365 days."),
    ("metric=nonsense", "There is no such figure on the scorecard."),
])
def test_bad_parameters_are_a_400_with_a_message(client, auth, english, history, query, message):
    auth.login(history["staff"])
    page = client.get(f"/provider/scorecard?{query}")
    assert page.status_code == 400
    assert message in page.get_data(as_text=True)


def _page_statements(client, url: str) -> int:
    db.session.expunge_all()
    statements = []
    with counting(statements):
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_the_page_runs_the_same_few_statements_for_3_or_30_bookings(client, auth, clock):
    def provider_with(n: int):
        provider = factories.provider()
        listing = factories.listing(provider)
        days = [3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23]
        for i in range(n):
            served(listing, clock, slot(days[i // 2], 9 + 2 * (i % 2)), check_in_late=timedelta(minutes=20 * (i % 2)))
        return SimpleNamespace(phone=factories.staff(provider).phone)  # survives expunge_all

    small, large = provider_with(3), provider_with(30)
    clock.set(datetime(2026, 12, 1, tzinfo=SHANGHAI))
    counts = {}
    for name, staff in (("small", small), ("large", large)):
        auth.login(staff)
        counts[name] = (_page_statements(client, "/provider/scorecard"),
                        _page_statements(client, "/provider/scorecard?metric=finished_bookings"))
        auth.logout()
    assert counts["small"] == counts["large"]
    overview, with_evidence = counts["large"]
    # user, staff membership, provider, every figure in one statement, the unread-notification
    # count of the page header, the latest supervision grade, the penalty reports and the rules in
    # force (their thresholds beside the figures: one statement, two here, where the test clock is
    # before the seeded version's effective date and the baseline is read): 9;
    # the chosen figure's evidence adds one, and one more for the exclusions among its bookings.
    assert overview <= 9 and with_evidence == overview + 2 <= 13


# --- The API -----------------------------------------------------------------------------------


def test_the_api_gives_each_figure_and_the_ids_behind_it(client, history):
    body = client.get("/api/v1/my/scorecard", headers=bearer(history["staff"])).get_json()
    assert body["provider"] == {"id": history["provider"].id, "name": history["provider"].name}
    assert body["window"]["days"] == 90
    figures = {f["key"]: f for f in body["figures"]}
    assert list(figures) == list(sc.METRICS)
    b = history["bookings"]
    assert figures["late_starts"]["value"] == 1 and figures["late_starts"]["ids"] == [b["late_start"].id]
    assert figures["late_rate"] | {"label": None, "explains": None} == {
        "key": "late_rate", "label": None, "explains": None, "kind": "rate", "subject": "booking", "value": 0.5,
        "numerator": "late_bookings", "denominator": "due_bookings",
        "ids": ids(b["late_start"], b["late_finish"], b["late_answer"], b["expired"])}
    assert figures["upheld_complaints"]["subject"] == "complaint"
    assert figures["rating_raw_mean"]["value"] == 3.5 and figures["rating_mean"]["kind"] == "mean"
    shorter = client.get("/api/v1/my/scorecard?window_days=5", headers=bearer(history["staff"])).get_json()
    assert {f["key"]: f["value"] for f in shorter["figures"]}["due_bookings"] == 0


def test_officials_read_any_scorecard_through_the_api(client, history):
    headers = bearer(factories.official())
    url = f"/api/v1/official/providers/{history['provider'].id}/scorecard?window_days=365"
    body = client.get(url, headers=headers).get_json()
    assert body["window"]["days"] == 365
    assert {f["key"]: f["value"] for f in body["figures"]}["finished_bookings"] == 4
    missing = client.get("/api/v1/official/providers/999999/scorecard", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == PROBLEM


@pytest.mark.parametrize("days", ["0", "731", "abc"])
def test_a_bad_window_is_a_422_problem(client, history, days):
    response = client.get(f"/api/v1/my/scorecard?window_days={days}", headers=bearer(history["staff"]))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["errors"]["window_days"]


def test_api_access_rules(client, history):
    official_url = f"/api/v1/official/providers/{history['provider'].id}/scorecard"
    assert client.get("/api/v1/my/scorecard").status_code == 401
    assert client.get(official_url + "?window_days=abc").status_code == 401  # before validation
    resident = bearer(factories.resident())
    assert client.get("/api/v1/my/scorecard", headers=resident).status_code == 403
    assert client.get(official_url, headers=resident).status_code == 403
    assert client.get(official_url, headers=bearer(history["staff"])).status_code == 403
    assert client.get("/api/v1/my/scorecard", headers=bearer(factories.official())).status_code == 403



def test_late_rate_never_exceeds_one_hundred_percent(db_session, clock):
    """A late answer to a booking the resident then cancelled is a late response,
    but not a due booking, so it does not count in the late rate."""
    from datetime import timedelta

    from providers.bookings import services
    from ratings.scorecard import current_window, scorecard

    booking = factories.booking()
    staff = factories.staff(booking.provider)
    clock.set(booking.respond_by + timedelta(minutes=5))
    services.accept(db_session, booking, staff, carer_id=carer_for(booking))  # a late response
    services.cancel_by_resident(db_session, booking, booking.resident)
    clock.set(booking.starts_at + timedelta(days=1))
    card = scorecard(db_session, booking.provider_id, current_window(90)).values()
    assert card["late_responses"] == 1
    assert card["late_bookings"] == 0 and card["due_bookings"] == 0
    assert card["late_rate"] == 0
