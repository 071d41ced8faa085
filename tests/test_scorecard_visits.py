"""Proof-of-service figures (ratings/scorecard_visits.py): each at its edges, its window in
Asia/Shanghai, and the same numbers for one provider, for all providers and for the evaluator."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from app.extensions import db
from providers.bookings.models import BookingStatus
from ratings import scorecard as sc
from ratings.followups.models import CallOutcome
from ratings.supervision import rules
from ratings.supervision.evaluator import evaluate
from tests.test_scorecard import counting
from tests import factories
from tests.helpers import bearer
from tests.supervision_helpers import as_of, booking, local, programme_provider, visit

SERVED, PARTLY, NOT_SERVED = CallOutcome.SERVED, CallOutcome.PARTLY, CallOutcome.NOT_SERVED


def ids(*bookings):
    return sorted(b.id for b in bookings)


@pytest.fixture
def month():
    """A provider's October: 6 programme visits with every kind of fact, plus bookings that
    are no visits (resident-paid, cancelled)."""
    provider, listing, resident, award = programme_provider()
    at = local(2026, 10, 5, 9)
    v = {
        "code": visit(listing, resident, award, at, verified=True, call=(SERVED, 4)),
        "confirmed": visit(listing, resident, award, at + timedelta(hours=2), verified=True, call=(PARTLY, 5)),
        "plain": visit(listing, resident, award, at + timedelta(hours=4), verified=True, call=(SERVED, 4)),
        "flagged": visit(listing, resident, award, at + timedelta(hours=6), flags=["outside_radius", "no_code"],
                         call=(NOT_SERVED, 4)),
        "cleared": visit(listing, resident, award, at + timedelta(hours=8), cleared=["short_duration"]),
        "calling": visit(listing, resident, award, at + timedelta(hours=10), call=(None, None)),  # not reached yet
    }
    v["resident_paid"] = booking(listing, resident, at + timedelta(hours=12))
    cancelled = visit(listing, resident, award, at + timedelta(hours=14), flags=["no_location"])
    cancelled.status, cancelled.completed_at, cancelled.checked_in_at = BookingStatus.CANCELLED_BY_PROVIDER, None, None
    v["cancelled"] = cancelled
    db.session.commit()
    return provider, v


def test_each_figure_and_the_visits_behind_it(db_session, month):
    provider, v = month
    card = sc.scorecard(db_session, provider.id, sc.current_window(90), with_ids=True)
    six = ids(v["code"], v["confirmed"], v["plain"], v["flagged"], v["cleared"], v["calling"])
    assert card["programme_visits"].ids == six  # not the resident-paid one, not the cancelled one
    assert card["verified_visits"].ids == ids(v["code"], v["confirmed"], v["plain"])
    assert card["unverified_visits"].ids == ids(v["flagged"], v["cleared"], v["calling"])
    assert card["verified_rate"].value == pytest.approx(3 / 6)
    assert card["verified_rate"].ids == card["verified_visits"].ids
    # a cleared flag does not count; two open flags on one visit count once
    assert card["flagged_visits"].ids == ids(v["flagged"])
    assert card["flagged_rate"].value == pytest.approx(1 / 6)
    # a call still being tried is no finding; "partly" is not "not served"
    assert card["not_served_visits"].ids == ids(v["flagged"])
    # 4 + 5 + 4 + 4 = 17 over 4 calls = 4.25 → 4.3 (half up, not to even)
    assert card["follow_up_calls"].value == 4 and len(card["follow_up_calls"].ids) == 4
    assert card["follow_up_satisfaction"].value == Decimal("4.3")
    assert card["follow_up_satisfaction"].ids == card["follow_up_calls"].ids


def test_without_visits_the_rates_are_zero_and_there_is_no_satisfaction(db_session):
    provider, _listing, _resident, _award = programme_provider()
    values = sc.scorecard(db_session, provider.id, sc.current_window(90)).values()
    assert {k: values[k] for k in ("programme_visits", "verified_rate", "flagged_rate", "not_served_visits",
                                   "follow_up_calls", "follow_up_satisfaction")} == {
        "programme_visits": 0, "verified_rate": 0.0, "flagged_rate": 0.0, "not_served_visits": 0,
        "follow_up_calls": 0, "follow_up_satisfaction": None}


@pytest.mark.parametrize("scores, mean", [
    ((4, 5, 4, 4), "4.3"), ((1,), "1.0"), ((5, 5, 4), "4.7"), ((3, 4), "3.5"), ((1, 2, 2, 2, 2, 2, 2, 2), "1.9"),
    ((2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4), "3.0"),
])
def test_satisfaction_is_rounded_half_up_in_sql_as_in_python(db_session, scores, mean):
    provider, listing, resident, award = programme_provider()
    for i, score in enumerate(scores):
        visit(listing, resident, award, local(2026, 10, 1, 8) + timedelta(hours=i), verified=True,
              call=(SERVED, score))
    db.session.commit()
    value = sc.scorecard(db_session, provider.id, sc.current_window(90))["follow_up_satisfaction"].value
    assert value == Decimal(mean) == sc.satisfaction_mean(sum(scores), len(scores))


def test_the_evaluator_window_is_whole_local_days_in_shanghai(db_session):
    """A visit checked out at 23:59 on 31 October (Shanghai) is in the November evaluation's
    window; one at 00:00 on 1 November is not; 00:00 on the first day is."""
    provider, listing, resident, award = programme_provider()
    rule_set = rules.current(db_session)
    first_day = date(2026, 11, 1) - timedelta(days=rule_set.window_days)
    inside_last = visit(listing, resident, award, local(2026, 10, 31, 22, 59))  # out 23:59
    outside = visit(listing, resident, award, local(2026, 10, 31, 23, 0))  # out 00:00 on 1 November
    inside_first = visit(listing, resident, award, local(first_day.year, first_day.month, first_day.day, 0, 0)
                         - timedelta(hours=1))  # out at 00:00 local on the first day
    before = visit(listing, resident, award, local(first_day.year, first_day.month, first_day.day, 0, 0)
                   - timedelta(hours=1, minutes=1))  # out 23:59 the day before
    db.session.commit()
    window = sc.Window.local_days(as_of(), rule_set.window_days, rules.zone_of(rule_set))
    card = sc.scorecard(db_session, provider.id, window, with_ids=True)
    assert card["programme_visits"].ids == ids(inside_last, inside_first)
    assert outside.id not in card["unverified_visits"].ids and before.id not in card["unverified_visits"].ids
    # the evaluator reads the same figures over its window (here the long one: few bookings)
    result = {r.provider_id: r for r in evaluate(db_session, rule_set, as_of()).results}[provider.id]
    assert result.window.end == window.end and round(result.window.days) == rule_set.long_window_days
    assert result.figures["programme_visits"] == 3 and result.figures["unverified_visits"] == 3


def test_all_providers_have_the_same_figures_in_one_statement(db_session, month):
    provider, _v = month
    other, listing, resident, award = programme_provider()
    visit(listing, resident, award, local(2026, 10, 9, 9), verified=True, call=(SERVED, 2))
    db.session.commit()
    window = sc.current_window(90)
    statements = []
    with counting(statements):
        figures = sc.all_providers(db_session, window)
    assert len(statements) == 1
    assert figures[provider.id] == sc.scorecard(db_session, provider.id, window).values()
    assert (figures[other.id]["programme_visits"], figures[other.id]["verified_rate"],
            figures[other.id]["follow_up_satisfaction"]) == (1, 1.0, Decimal("2.0"))
    # each metric's own per-provider select agrees with the one statement
    for metric in sc.VISIT_METRICS:
        mine = dict(db_session.execute(metric.per_provider(window)).all()).get(provider.id, 0)
        assert mine == pytest.approx(float(figures[provider.id][metric.key])), metric.key


def test_the_visit_reasons_say_why_each_visit_counts(db_session, month):
    _provider, v = month
    with force_locale("en"):
        reasons = sc.visit_reasons(db_session, ids(v["flagged"], v["cleared"], v["code"]))
    assert reasons[v["code"].id] == []
    assert reasons[v["cleared"].id] == ["Not verified"]
    assert reasons[v["flagged"].id][0] == "Not verified"
    assert "Closed without the resident's code" in reasons[v["flagged"].id][1]
    assert "far from the resident's home" in reasons[v["flagged"].id][1]
    assert reasons[v["flagged"].id][2] == "Not served (follow-up call)"


# --- The page and the API ------------------------------------------------------------------------


def test_the_scorecard_page_shows_the_visit_figures_with_their_definitions(client, auth, month):
    provider, v = month
    client.set_cookie("linli_lang", "en")
    auth.login(factories.staff(provider))
    page = client.get("/provider/scorecard").get_data(as_text=True)
    for key in ("programme_visits", "verified_rate", "not_served_visits", "flagged_rate", "follow_up_satisfaction"):
        assert f'id="figure-{key}"' in page
    assert "50.0% (3 of 6)" in page and "4.3 (follow-up calls: 4)" in page
    assert "A flag an official cleared no longer counts." in page
    evidence = client.get("/provider/scorecard?metric=unverified_visits").get_data(as_text=True)
    assert "Why it counts" in evidence and "Not served (follow-up call)" in evidence
    for key in ("flagged", "cleared", "calling"):
        assert f'id="booking-{v[key].id}"' in evidence
    assert f'id="booking-{v["code"].id}"' not in evidence
    calls = client.get("/provider/scorecard?metric=follow_up_satisfaction").get_data(as_text=True)
    assert calls.count('id="follow_up_call-') == 4 and "Not served" in calls


def test_the_api_gives_the_visit_figures(client, month):
    provider, v = month
    body = client.get("/api/v1/my/scorecard", headers=bearer(factories.staff(provider))).get_json()
    figures = {f["key"]: f for f in body["figures"]}
    assert figures["verified_rate"] | {"label": None, "explains": None} == {
        "key": "verified_rate", "label": None, "explains": None, "kind": "rate", "subject": "booking",
        "value": 0.5, "numerator": "verified_visits", "denominator": "programme_visits",
        "ids": ids(v["code"], v["confirmed"], v["plain"])}
    assert figures["follow_up_satisfaction"]["value"] == 4.3
    assert figures["follow_up_satisfaction"]["subject"] == "follow_up_call"
    assert len(figures["follow_up_satisfaction"]["ids"]) == 4
    assert figures["not_served_visits"]["ids"] == [v["flagged"].id]


def test_the_visit_evidence_runs_the_same_statements_for_3_or_12_visits(client, auth):
    def staff_with(n: int) -> str:
        provider, listing, resident, award = programme_provider()
        for i in range(n):
            visit(listing, resident, award, local(2026, 10, 2, 8) + timedelta(hours=i), flags=["no_code"],
                  call=(NOT_SERVED, 1) if i % 2 else None)
        phone = factories.staff(provider).phone
        db.session.commit()
        return phone

    def statements_for(phone: str) -> int:
        auth.login(SimpleNamespace(phone=phone))
        db.session.expunge_all()
        statements = []
        with counting(statements):
            page = client.get("/provider/scorecard?metric=unverified_visits")
        assert page.status_code == 200
        auth.logout()
        return len(statements)

    small, large = staff_with(3), staff_with(12)
    assert statements_for(small) == statements_for(large)
