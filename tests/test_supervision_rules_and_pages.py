"""The rule set (versions, nonsense refused), exclusions, the pages and the JSON API."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.audit import trail
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from providers.bookings.models import BookingStatus as S
from ratings.supervision import exclusions, rules
from ratings.supervision.models import BookingExclusion, EvaluationRun, PenaltyReport, RuleSet
from ratings.supervision.runs import run_evaluation
from tests import factories
from tests.forms import open_page, submit
from tests.rating_helpers import audit_events, notifications
from tests.helpers import assert_problem, count
from tests.supervision_helpers import as_of, booking, bookings, local, serving_provider

# --- The rule set ------------------------------------------------------------------------


def test_version_1_is_the_linli_default_and_version_2_adds_the_visit_rules():
    rule_set = rules.current(db.session)
    assert rule_set.version == 2  # 0022_visit_rules: version 1 with the proof-of-service thresholds
    values = rules.human(rule_set)
    assert values["window_days"] == 90 and values["long_window_days"] == 365
    assert values["late_rate_percent"] == 10 and values["late_min_count"] == 5
    assert str(values["rating_below"]) == "3.5" and values["new_provider_days"] == 90
    assert (values["verified_rate_percent"], values["verified_min_visits"], values["not_served_min_count"],
            values["flagged_rate_percent"], values["flagged_min_count"]) == (90, 10, 1, 10, 5)
    assert values == rules.DEFAULTS
    v1 = rules.get_version(db.session, 1)
    assert {k: v for k, v in rules.human(v1).items()} == values  # copied, the new ones by their defaults
    assert "Proof of service" in rule_set.note


def test_a_change_is_a_new_audited_version_and_the_old_one_stays():
    official = factories.official()
    v3 = rules.create_version(db.session, official, {"late_rate_percent": "12.5", "window_days": 60}, "试行")
    v2 = rules.get_version(db.session, 2)
    assert (v3.version, v3.late_rate_bp, v3.window_days) == (3, 1250, 60)
    assert (v2.late_rate_bp, v2.window_days) == (1000, 90)
    assert rules.current(db.session).id == v3.id
    event, = trail(db.session, "supervision_rule_set", v3.id)
    assert event.actor_id == official.id and event.reason == "试行"
    assert event.before["late_rate_percent"] == "10" and event.after["late_rate_percent"] == "12.5"


@pytest.mark.parametrize("changes, field, words", [
    ({"window_days": -5}, "window_days", "negative"),
    ({"window_days": 0}, "window_days", "at least 1"),
    ({"late_rate_percent": "120"}, "late_rate_percent", "above 100"),
    ({"cancellation_rate_percent": "-1"}, "cancellation_rate_percent", "negative"),
    ({"late_rate_percent": "abc"}, "late_rate_percent", "number"),
    ({"late_rate_percent": "10.123"}, "late_rate_percent", "two decimals"),
    ({"late_min_count": 0}, "late_min_count", "at least 1"),
    ({"late_min_count": "2.5"}, "late_min_count", "whole number"),
    ({"evaluation_day": 31}, "evaluation_day", "at most 28"),
    ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
    ({"long_window_days": 30}, "long_window_days", "shorter"),
    ({"rating_below": "6"}, "rating_below", "between 1 and 5"),
    ({"excellent_rating": "3.9"}, "excellent_rating", "excellent"),
    ({"warning_percent": 100}, "warning_percent", "at most 99"),
    ({"colour": "red"}, "colour", "Unknown field"),
])
def test_nonsense_is_refused_with_a_specific_message(changes, field, words):
    official = factories.official()
    with pytest.raises(Invalid) as refused:
        rules.create_version(db.session, official, changes, "试试")
    assert refused.value.field == field
    with __import__("flask_babel").force_locale("en"):
        assert words in str(refused.value)
    assert count(RuleSet) == 2


def test_a_note_and_a_change_are_required_and_only_officials_may():
    official = factories.official()
    with pytest.raises(Invalid) as no_note:
        rules.create_version(db.session, official, {"window_days": 60}, " ")
    assert no_note.value.field == "note"
    with pytest.raises(Invalid):
        rules.create_version(db.session, official, {"window_days": 90}, "same")
    with pytest.raises(Forbidden):
        rules.create_version(db.session, factories.resident(), {"window_days": 60}, "我来改")


# --- Exclusions ------------------------------------------------------------------------------


def test_exclusion_rules():
    official = factories.official()
    provider, listing, resident, staff = serving_provider()
    on_time = booking(listing, resident, local(2026, 10, 5, 10))
    late = booking(listing, resident, local(2026, 10, 6, 10), late=True)
    cancelled = booking(listing, resident, local(2026, 10, 7, 10), S.CANCELLED_BY_PROVIDER)
    db.session.commit()
    with pytest.raises(Invalid):
        exclusions.exclude(db.session, official, on_time.id, "resident_fault", "无")
    with pytest.raises(Invalid) as no_reason:
        exclusions.exclude(db.session, official, late.id, "resident_fault", "")
    assert no_reason.value.field == "reason"
    with pytest.raises(Invalid) as no_cause:
        exclusions.exclude(db.session, official, late.id, "bad luck", "暴雨")
    assert no_cause.value.field == "cause"
    with pytest.raises(NotFound):
        exclusions.exclude(db.session, official, 999_999, "force_majeure", "暴雨")
    with pytest.raises(Forbidden):
        exclusions.exclude(db.session, staff, late.id, "force_majeure", "暴雨")
    exclusions.exclude(db.session, official, cancelled.id, "force_majeure", "暴雨封路")
    with pytest.raises(Conflict):
        exclusions.exclude(db.session, official, cancelled.id, "force_majeure", "again")
    assert audit_events("supervision.booking_excluded", cancelled.id)[0].reason == "暴雨封路"
    assert notifications("supervision.exclusion", staff.id)[0].params["booking"] == cancelled.id


def test_the_scorecard_shows_the_excluded_booking(client, auth, en, clock):
    official = factories.official()
    provider, listing, resident, staff = serving_provider()
    late = booking(listing, resident, local(2026, 10, 30, 10), late=True)
    db.session.commit()
    exclusions.exclude(db.session, official, late.id, "resident_fault", "Resident was not home at 10")
    db.session.commit()
    auth.login(staff)
    page = client.get("/provider/scorecard?metric=excluded_bookings").get_data(as_text=True)
    assert f'id="booking-{late.id}"' in page and "Resident was not home at 10" in page
    assert "Excluded: The resident" in page
    late_page = client.get("/provider/scorecard?metric=late_bookings").get_data(as_text=True)
    assert f'id="booking-{late.id}"' not in late_page


# --- Pages -------------------------------------------------------------------------------


@pytest.fixture
def evaluated():
    provider, listing, resident, staff = serving_provider()
    made = bookings(listing, resident, 50, late=6)
    other, listing2, resident2, other_staff = serving_provider()
    bookings(listing2, resident2, 50, late=7)
    outcome = run_evaluation(db.session, as_of(date(2026, 11, 1)), trigger="cli")
    db.session.commit()
    report = db.session.scalar(sa.select(PenaltyReport).where(PenaltyReport.provider_id == provider.id))
    others = db.session.scalar(sa.select(PenaltyReport).where(PenaltyReport.provider_id == other.id))
    return {"provider": provider, "staff": staff, "run": outcome.run, "report": report, "others": others,
            "bookings": made, "other_staff": other_staff}


def test_official_pages(client, auth, en, evaluated):
    auth.login(factories.official())
    run, report = evaluated["run"], evaluated["report"]
    runs_page = client.get("/official/supervision/runs")
    assert runs_page.status_code == 200 and f'id="run-{run.id}"' in runs_page.get_data(as_text=True)
    run_page = client.get(f"/official/supervision/runs/{run.id}").get_data(as_text=True)
    assert f'id="snapshot-{evaluated["provider"].id}"' in run_page and "Qualified" in run_page
    listing = client.get("/official/supervision/reports?status=proposed").get_data(as_text=True)
    assert f'id="report-{report.id}"' in listing and "Warning" in listing
    detail = client.get(f"/official/supervision/reports/{report.id}").get_data(as_text=True)
    assert "12.0% (6 / 50)" in detail and "above 10 %" in detail and "at least 5" in detail
    for b in evaluated["bookings"][:6]:
        assert f'id="booking-{b.id}"' in detail
    assert client.get("/official/supervision/reports?status=nonsense").status_code == 404
    assert client.get("/official/supervision/runs/999999").status_code == 404
    assert client.get("/official/supervision/rules").status_code == 200
    assert client.get("/official/supervision/exclusions").status_code == 200


def test_rule_form_keeps_input_and_says_what_is_wrong(client, auth, en):
    auth.login(factories.official())
    form = {k: str(v) for k, v in rules.human(rules.current(db.session)).items()}
    response = submit(client, "/official/supervision/rules", fields={"late_rate_percent": "150", "note": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "A rate cannot be above 100 %." in page and 'value="150"' in page
    assert count(RuleSet) == 2
    ok = submit(client, "/official/supervision/rules", fields={"window_days": "60", "note": "试行"})
    assert set(form) <= open_page(client, "/official/supervision/rules").form().field_names()
    assert ok.status_code == 302 and rules.current(db.session).window_days == 60


def test_exclusion_form(client, auth, en):
    official = factories.official()
    provider, listing, resident, _ = serving_provider()
    late = booking(listing, resident, local(2026, 10, 5, 10), late=True)
    db.session.commit()
    auth.login(official)
    refused = submit(client, "/official/supervision/exclusions", fields={"booking_id": late.id, "cause": "force_majeure"})
    assert refused.status_code == 422 and "Give a reason" in refused.get_data(as_text=True)
    done = submit(client, "/official/supervision/exclusions",
                  fields={"booking_id": late.id, "cause": "force_majeure", "reason": "台风停运"})
    assert done.status_code == 302 and count(BookingExclusion) == 1


def test_providers_see_their_own_grade_and_reports_only(client, auth, en, evaluated):
    auth.login(evaluated["staff"])
    page = client.get("/provider/scorecard").get_data(as_text=True)
    assert 'id="supervision-grade"' in page and "Qualified" in page
    assert f'/provider/supervision/reports/{evaluated["report"].id}' in page
    assert client.get(f'/provider/supervision/reports/{evaluated["report"].id}').status_code == 200
    assert client.get(f'/provider/supervision/reports/{evaluated["others"].id}').status_code == 404
    assert client.get("/official/supervision/runs").status_code == 403


# --- API ---------------------------------------------------------------------------------------


def test_api_rule_sets(client, auth):
    auth.login(factories.official())
    current = client.get("/api/v1/supervision/rule-set").get_json()
    assert current["version"] == 2 and current["rules"]["late_rate_percent"] == "10"
    assert current["rules"]["verified_rate_percent"] == "90" and current["rules"]["flagged_min_count"] == 5
    refused = client.post("/api/v1/supervision/rule-sets", json={"late_rate_percent": 120, "note": "x"})
    assert_problem(refused, 422, "late_rate_percent")
    made = client.post("/api/v1/supervision/rule-sets", json={"window_days": 60, "note": "试行"})
    assert made.status_code == 201 and made.get_json()["version"] == 3
    assert [v["version"] for v in client.get("/api/v1/supervision/rule-sets").get_json()] == [3, 2, 1]


def test_api_evaluate_runs_and_reports(client, auth):
    provider, listing, resident, staff = serving_provider()
    bookings(listing, resident, 50, late=6)
    official = factories.official()
    auth.login(official)
    dry = client.post("/api/v1/supervision/evaluate", json={"as_of": "2026-11-01", "dry_run": True}).get_json()
    assert dry["created"] is False and dry["run"] is None and count(EvaluationRun) == 0
    assert {"provider_id": provider.id, "threshold": "late", "sanction": "warning"}.items() <= dry["proposals"][0].items()
    made = client.post("/api/v1/supervision/evaluate", json={"as_of": "2026-11-01"}).get_json()
    assert made["created"] is True and made["run"]["report_count"] >= 1
    again = client.post("/api/v1/supervision/evaluate", json={"as_of": "2026-11-01"}).get_json()
    assert again["created"] is False and again["run"]["id"] == made["run"]["id"]
    assert_problem(client.post("/api/v1/supervision/evaluate", json={"as_of": "2027-01-01"}), 422, "as_of")
    run = client.get(f'/api/v1/supervision/runs/{made["run"]["id"]}').get_json()
    snap = next(s for s in run["snapshots"] if s["provider"]["id"] == provider.id)
    assert snap["grade"] == "qualified" and snap["breaches"] == ["late"]
    assert client.get("/api/v1/supervision/runs").get_json()[0]["id"] == made["run"]["id"]
    reports = client.get("/api/v1/supervision/reports?status=proposed").get_json()
    mine = next(r for r in reports if r["provider"]["id"] == provider.id)
    assert len(mine["evidence"]["booking"]) == 6
    auth.logout()
    # provider staff: their own reports only
    other, listing2, resident2, _ = serving_provider()
    auth.login(staff)
    assert {r["provider"]["id"] for r in client.get("/api/v1/supervision/reports").get_json()} == {provider.id}
    assert client.get(f'/api/v1/supervision/reports/{mine["id"]}').status_code == 200
    assert_problem(client.post("/api/v1/supervision/evaluate", json={"as_of": "2026-11-01"}), 403)
    auth.logout()
    auth.login(factories.staff(other))
    assert_problem(client.get(f'/api/v1/supervision/reports/{mine["id"]}'), 404)


def test_api_exclusions(client, auth):
    provider, listing, resident, _ = serving_provider()
    late = booking(listing, resident, local(2026, 10, 5, 10), late=True)
    db.session.commit()
    auth.login(factories.official())
    assert_problem(client.post("/api/v1/supervision/exclusions",
                               json={"booking_id": late.id, "cause": "x", "reason": "r"}), 422, "cause")
    made = client.post("/api/v1/supervision/exclusions",
                       json={"booking_id": late.id, "cause": "resident_fault", "reason": "居民改约"})
    assert made.status_code == 201 and made.get_json()["booking_id"] == late.id
    assert_problem(client.post("/api/v1/supervision/exclusions",
                               json={"booking_id": late.id, "cause": "resident_fault", "reason": "再次"}), 409)
    assert client.get("/api/v1/supervision/exclusions").get_json()[0]["booking_id"] == late.id


def test_api_needs_an_official(client, auth):
    assert_problem(client.get("/api/v1/supervision/rule-set"), 401)
    auth.login(factories.resident())
    assert_problem(client.get("/api/v1/supervision/runs"), 403)
    assert_problem(client.get("/api/v1/supervision/reports"), 403)


def test_api_evaluate_with_a_bearer_token(client):
    from app.auth.services import issue_token

    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 50, late=6)
    official = factories.official()
    _token, raw = issue_token(db.session, official, "调度")
    db.session.commit()
    answer = client.post("/api/v1/supervision/evaluate", json={"as_of": "2026-11-01"},
                         headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["created"] is True
    assert audit_events("supervision.run")[0].actor_id == official.id
