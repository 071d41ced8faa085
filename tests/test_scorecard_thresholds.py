"""The scorecard shows each threshold of the rules in force beside its figure, and marks
the figures over a threshold and those close to one (the rule set's early warning)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from bs4 import BeautifulSoup

from app.extensions import db
from ratings import scorecard as sc
from ratings import scorecard_views as views
from ratings.supervision import publication, rules
from tests import factories
from tests.test_scorecard import SHANGHAI, served, slot

pytestmark = pytest.mark.usefixtures("english_messages")

DAYS = [3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30]


def card_with(**values) -> sc.Scorecard:
    figures = {key: sc.Figure(metric, values.get(key, 0 if metric.kind == "count" else None))
               for key, metric in sc.METRICS.items()}
    return sc.Scorecard(1, sc.current_window(90), figures)


def states(marks) -> dict[str, str]:
    return {m.key: m.state for found in marks.values() for m in found}


def test_each_threshold_sits_beside_its_figure(client):
    rule_set = rules.baseline(db.session)
    marks = views.threshold_marks(rule_set, card_with())
    beside = {m.key: figure for figure, found in marks.items() for m in found}
    assert beside == {
        "late": "late_rate", "cancellations": "cancellation_rate", "expired_requests": "expired_requests",
        "complaints": "upheld_complaints", "rating": "rating_mean", "documents": "expired_documents",
        "unverified_visits": "verified_rate", "not_served": "not_served_visits", "flagged_visits": "flagged_rate",
    }
    assert set(states(marks).values()) == {"within"}


def test_the_limits_are_the_rule_sets_own(client):
    rule_set = rules.baseline(db.session)  # version 1: late above 10 % with at least 5, rating below 3.5…
    by_key = {m.key: m.limit for found in views.threshold_marks(rule_set, card_with()).values() for m in found}
    assert by_key["late"] == "above 10% (and at least 5)"
    assert by_key["rating"] == "below 3.5 (with at least 10 ratings)"
    assert by_key["unverified_visits"] == "below 90% (with at least 10 visits)"
    assert by_key["complaints"] == "at least 3"


def test_over_and_close_follow_the_evaluators_rule(client):
    rule_set = rules.baseline(db.session)  # early warning at 80 %: 4 of a floor of 5
    over = card_with(late_bookings=5, due_bookings=20, late_rate=0.25)
    close = card_with(late_bookings=4, due_bookings=20, late_rate=0.2)
    within = card_with(late_bookings=3, due_bookings=20, late_rate=0.15)
    assert states(views.threshold_marks(rule_set, over))["late"] == "breach"
    assert states(views.threshold_marks(rule_set, close))["late"] == "near"
    assert states(views.threshold_marks(rule_set, within))["late"] == "within"
    # The same verdicts as the evaluator's (rules.breaches / rules.near) on those figures.
    for card in (over, close, within):
        figures = {**card.values(), "rating_sum": 0}
        marked = states(views.threshold_marks(rule_set, card))
        assert [k for k, s in marked.items() if s == "breach"] == rules.breaches(rule_set, figures)
        assert set(rules.near(rule_set, figures)) >= {k for k, s in marked.items() if s == "near"}


def test_a_low_rating_with_enough_ratings_is_over(client):
    rule_set = rules.baseline(db.session)
    low = card_with(rating_count=20, rating_raw_mean=2.0, rating_mean=2.33)
    assert states(views.threshold_marks(rule_set, low))["rating"] == "breach"
    few = card_with(rating_count=3, rating_raw_mean=1.0, rating_mean=3.25)
    assert states(views.threshold_marks(rule_set, few))["rating"] == "within"  # too few ratings to judge


def test_a_new_version_in_force_moves_the_thresholds(client, clock):
    official = factories.official()
    draft = publication.create_draft(db.session, official, {"late_rate_percent": "15"}, "放宽迟到率")
    publication.publish(db.session, official, draft.id)
    db.session.commit()
    clock.set(draft.effective_from + timedelta(days=1))
    rule_set = rules.current(db.session)
    assert rule_set.version == draft.version
    by_key = {m.key: m.limit for found in views.threshold_marks(rule_set, card_with()).values() for m in found}
    assert by_key["late"] == "above 15% (and at least 5)"


def test_the_page_marks_a_breached_figure_for_staff_and_officials(client, auth, clock):
    provider = factories.provider()
    listing = factories.listing(provider)
    for i in range(6):  # six bookings, all checked in late: over the late threshold
        served(listing, clock, slot(DAYS[i], 9), check_in_late=timedelta(minutes=30))
    clock.set(datetime(2026, 12, 1, tzinfo=SHANGHAI))
    auth.login(factories.staff(provider))
    soup = BeautifulSoup(client.get("/provider/scorecard").get_data(as_text=True), "html.parser")
    row = soup.find(id="figure-late_rate")
    assert "row-breach" in row["class"]
    mark = row.find(attrs={"data-threshold": "late"})
    assert mark["data-state"] == "breach" and "above 10% (and at least 5)" in mark.get_text()
    assert "Over the threshold" in mark.get_text()
    assert "1 figure is over its threshold." in soup.find(id="threshold-summary").get_text()
    auth.logout()
    auth.login(factories.official())
    soup = BeautifulSoup(client.get(f"/official/providers/{provider.id}/scorecard").get_data(as_text=True),
                         "html.parser")
    assert soup.find(id="figure-late_rate").find(attrs={"data-threshold": "late"})["data-state"] == "breach"
