"""The review/appeal API, the league table (published grades only) and the scorecard's sanctions."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from ratings.supervision import review
from ratings.supervision.models import Grade, ProviderSnapshot, ReportStatus, Sanction
from tests import factories
from tests.helpers import assert_problem, bearer
from tests.sanction_helpers import provider_with_staff, report, run

PLAN = {"root_cause": "人手不足", "corrective_actions": "增加护理员", "preventive_steps": "每周复核"}


def test_officials_confirm_and_dismiss_through_the_api(client):
    provider, _ = provider_with_staff()
    item, other = report(provider, Sanction.FINE), report(provider, Sanction.WARNING)
    official = bearer(factories.official())
    queue = client.get("/api/v1/supervision/queue", headers=official).get_json()
    assert [q["report_id"] for q in queue if q["provider"]["id"] == provider.id] == [item.id, other.id]
    refused = client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={"sanction": "warning"},
                          headers=official)
    assert_problem(refused, 422, "reason")
    done = client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={}, headers=official).get_json()
    assert done["status"] == "confirmed" and done["review"]["sanction"] == "fine"
    assert done["review"]["appeal_deadline"]
    gone = client.post(f"/api/v1/supervision/reports/{other.id}/dismiss", json={"reason": "住户原因"},
                       headers=official).get_json()
    assert gone["status"] == "dismissed"
    assert_problem(client.post(f"/api/v1/supervision/reports/{other.id}/dismiss", json={"reason": "x"},
                               headers=official), 409)


def test_removal_through_the_api_needs_two_officials(client):
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.REMOVAL)
    first = bearer(factories.official())
    body = client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={}, headers=first).get_json()
    assert body["status"] == "proposed" and body["awaiting_second_approval"] is True
    assert_problem(client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={}, headers=first), 409,
                   "official")
    second = client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={},
                         headers=bearer(factories.official())).get_json()
    assert second["status"] == "confirmed"


def test_providers_appeal_only_their_own_reports_and_cannot_review(client):
    provider, staff = provider_with_staff()
    item = report(provider)
    review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    _other, other_staff = provider_with_staff()
    other = bearer(other_staff)
    assert_problem(client.get(f"/api/v1/supervision/reports/{item.id}/review", headers=other), 404)
    assert_problem(client.post(f"/api/v1/supervision/reports/{item.id}/appeal", json=PLAN, headers=other), 404)
    own = bearer(staff)
    assert_problem(client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={}, headers=own), 403)
    assert_problem(client.get("/api/v1/supervision/queue", headers=own), 403)
    assert_problem(client.post(f"/api/v1/supervision/reports/{item.id}/appeal", json={**PLAN, "root_cause": ""},
                               headers=own), 422, "root_cause")
    made = client.post(f"/api/v1/supervision/reports/{item.id}/appeal", json=PLAN, headers=own)
    assert made.status_code == 201 and made.get_json()["appeal"]["root_cause"] == "人手不足"
    read = client.get(f"/api/v1/supervision/reports/{item.id}/review", headers=own).get_json()
    assert read["status"] == "appealed"
    decided = client.post(f"/api/v1/supervision/reports/{item.id}/appeal-decision",
                          json={"outcome": "upheld", "reason": "整改到位"},
                          headers=bearer(factories.official())).get_json()
    assert decided["status"] == "overturned" and decided["appeal"]["outcome"] == "upheld"
    assert client.post(f"/api/v1/supervision/reports/{item.id}/appeal", json=PLAN).status_code == 401


def test_residents_get_403_and_anonymous_401(client):
    provider, _ = provider_with_staff()
    item = report(provider)
    assert_problem(client.get(f"/api/v1/supervision/reports/{item.id}/review",
                              headers=bearer(factories.resident())), 403)
    assert_problem(client.get("/api/v1/supervision/dashboard"), 401)


def snapshot(run_obj, provider, grade: Grade, breaches=(), mean=4.6):
    db.session.add(ProviderSnapshot(
        run_id=run_obj.id, provider_id=provider.id, grade=grade, active_since=run_obj.as_of - timedelta(days=400),
        window_start=run_obj.as_of - timedelta(days=90), window_end=run_obj.as_of, window_days=90,
        figures={"rating_mean": mean, "rating_count": 30, "finished_bookings": 40, "late_rate": 0.0},
        breaches=list(breaches), near=list(breaches)))
    db.session.commit()


def test_the_league_table_shows_published_grades_only(client, en):
    latest = run()
    good, _ = provider_with_staff()
    best, _ = provider_with_staff()
    pending, _ = provider_with_staff()
    snapshot(latest, good, Grade.GOOD, mean=4.2)
    snapshot(latest, best, Grade.EXCELLENT, mean=4.8)
    snapshot(latest, pending, Grade.QUALIFIED, breaches=["late"], mean=4.7)
    open_report = report(pending, run_obj=latest)
    ids = lambda body: [r["provider"]["id"] for r in body["rows"] if r["provider"]["id"] in (good.id, best.id, pending.id)]  # noqa: E731
    body = client.get("/api/v1/supervision/grades").get_json()
    assert ids(body) == [best.id, good.id]  # the pending report keeps its provider out
    # Dismissed: the breach no longer counts; the grade is worked out again without it.
    review.dismiss(db.session, open_report.id, factories.official(), reason="不可抗力")
    db.session.commit()
    body = client.get("/api/v1/supervision/grades").get_json()
    assert ids(body) == [best.id, pending.id, good.id]
    assert next(r for r in body["rows"] if r["provider"]["id"] == pending.id)["grade"] == "excellent"
    community = good.communities[0].id
    only = client.get(f"/api/v1/supervision/grades?community_id={community}").get_json()
    assert [r["provider"]["id"] for r in only["rows"]] == [good.id]
    page = en.get(f"/grades?community={community}").get_data(as_text=True)
    assert f"league-{good.id}" in page and f"league-{best.id}" not in page


def test_a_confirmed_warning_is_on_the_scorecard(en, auth):
    provider, staff = provider_with_staff()
    item = report(provider)
    review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    auth.login(staff)
    page = en.get("/provider/scorecard").get_data(as_text=True)
    assert "Sanctions on record" in page and "sanction-warning" in page
    assert f"/provider/supervision/reports/{item.id}/appeal" in page
    assert item.status == ReportStatus.CONFIRMED


def test_the_dashboard_api_counts_reports_and_sanctions(client, clock):
    provider, _ = provider_with_staff()
    item = report(provider)
    report(provider, Sanction.FINE)
    official = factories.official()
    review.confirm(db.session, item.id, official)
    db.session.commit()
    clock.set(review.review_of(db.session, item.id).appeal_deadline)
    from ratings.supervision.sanctions import apply_due_sanctions

    apply_due_sanctions(db.session)
    db.session.commit()
    body = client.get("/api/v1/supervision/dashboard", headers=bearer(official)).get_json()
    assert body["reports_by_status"]["effective"] == 1 and body["reports_by_status"]["proposed"] == 1
    assert body["sanctions_by_month"]["warning"][-1] == 1 and body["months"][-1] == "2026-11"


def test_a_second_official_confirms_a_changed_removal_without_repeating_the_reason(client):
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.FINE)
    first, second = factories.official(), factories.official()
    review.confirm(db.session, item.id, first, sanction="removal", reason="伪造检查记录")
    db.session.commit()
    body = client.post(f"/api/v1/supervision/reports/{item.id}/confirm", json={},
                       headers=bearer(second)).get_json()
    assert body["status"] == "confirmed" and body["review"]["sanction"] == "removal"
    assert body["review"]["reason"] == "伪造检查记录"


def test_evidence_files_through_the_api_are_typed_and_counted(client):
    import io

    provider, staff = provider_with_staff()
    item = report(provider)
    review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    own = bearer(staff)
    url = f"/api/v1/supervision/reports/{item.id}/appeal/files"
    pdf = b"%PDF-1.4 evidence\n%%EOF"
    assert_problem(client.post(url, data={"files": [(io.BytesIO(pdf), "a.pdf")]}, headers=own,
                               content_type="multipart/form-data"), 409)  # no appeal yet
    client.post(f"/api/v1/supervision/reports/{item.id}/appeal", json=PLAN, headers=own)
    assert_problem(client.post(url, data={"files": [(io.BytesIO(b"GIF89a"), "a.gif")]}, headers=own,
                               content_type="multipart/form-data"), 422, "files")
    done = client.post(url, data={"files": [(io.BytesIO(pdf), "整改.pdf"), (io.BytesIO(pdf), "照片.pdf")]},
                       headers=own, content_type="multipart/form-data")
    assert done.status_code == 201 and done.get_json()["appeal"]["files"] == ["整改.pdf", "照片.pdf"]
    too_many = client.post(url, data={"files": [(io.BytesIO(pdf), f"{i}.pdf") for i in range(4)]}, headers=own,
                           content_type="multipart/form-data")
    assert_problem(too_many, 422, "files")
    _other, other_staff = provider_with_staff()
    assert_problem(client.post(url, data={"files": [(io.BytesIO(pdf), "x.pdf")]}, headers=bearer(other_staff),
                               content_type="multipart/form-data"), 404)
