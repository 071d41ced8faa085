"""The review queue, the decision page, the provider's appeal page, the dashboard and the league table."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from ratings.supervision import review
from ratings.supervision.models import ReportStatus, Sanction
from ratings.supervision.sanction_models import AppealFile
from tests import factories
from tests.forms import open_page, submit
from tests.sanction_helpers import provider_with_staff, report

PDF = b"%PDF-1.4 plan of action\n%%EOF"



def on_decide_page(client, item, action, fields, **kwargs):
    """An official's form on the report's decide page: confirm, dismiss, appeal-decision."""
    return submit(client, f"/official/supervision/reports/{item.id}/decide",
                  action=f"/official/supervision/reports/{item.id}/{action}", fields=fields, **kwargs)

def test_the_queue_lists_proposed_reports_oldest_first_with_filters(en, auth):
    official = factories.official()
    older_provider, _ = provider_with_staff()
    newer_provider, _ = provider_with_staff(categories=["repairs"])
    older = report(older_provider, created_at=factories.now() - timedelta(days=3))
    newer = report(newer_provider, Sanction.FINE)
    auth.login(official)
    page = en.get("/official/supervision/queue").get_data(as_text=True)
    assert page.index(f"queue-{older.id}") < page.index(f"queue-{newer.id}")
    medium = en.get("/official/supervision/queue?severity=medium").get_data(as_text=True)
    assert f"queue-{newer.id}" in medium and f"queue-{older.id}" not in medium
    housekeeping = factories.category("housekeeping").id
    by_category = en.get(f"/official/supervision/queue?category={housekeeping}").get_data(as_text=True)
    assert f"queue-{older.id}" in by_category and f"queue-{newer.id}" not in by_category
    community = older_provider.communities[0].id
    by_community = en.get(f"/official/supervision/queue?community={community}").get_data(as_text=True)
    assert f"queue-{older.id}" in by_community and f"queue-{newer.id}" not in by_community
    assert en.get("/official/supervision/queue?severity=nonsense").status_code == 404


def test_an_official_confirms_and_a_change_without_reason_keeps_the_input(en, auth):
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.FINE)
    auth.login(factories.official())
    refused = on_decide_page(en, item, "confirm", {"sanction": "warning", "reason": ""})
    assert refused.status_code == 422
    assert "Give a reason for changing the sanction" in refused.get_data(as_text=True)
    assert item.status == ReportStatus.PROPOSED
    done = on_decide_page(en, item, "confirm", {"sanction": "fine", "reason": ""}, follow_redirects=True)
    assert done.status_code == 200 and "confirmed" in done.get_data(as_text=True)
    db.session.refresh(item)
    assert item.status == ReportStatus.CONFIRMED


def test_the_same_official_twice_on_a_removal_sees_the_specific_message(en, auth):
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.REMOVAL)
    official = factories.official()
    auth.login(official)
    page = open_page(en, f"/official/supervision/reports/{item.id}/decide")
    confirm = f"/official/supervision/reports/{item.id}/confirm"
    first = page.submit(action=confirm, fields={"sanction": "removal"}, follow_redirects=True)
    assert "A second official must approve the removal" in first.get_data(as_text=True)
    again = page.submit(action=confirm, fields={"sanction": "removal"})  # the same page again
    assert again.status_code == 409
    assert "second, different official" in again.get_data(as_text=True)


def test_the_provider_appeals_with_a_file_and_another_official_decides(en, auth, client):
    provider, staff = provider_with_staff()
    item = report(provider)
    confirmer = factories.official()
    review.confirm(db.session, item.id, confirmer)
    db.session.commit()
    auth.login(staff)
    page = en.get(f"/provider/supervision/reports/{item.id}/appeal")
    assert page.status_code == 200 and "Appeal with a plan of action" in page.get_data(as_text=True)
    appeal = f"/provider/supervision/reports/{item.id}/appeal"
    missing = submit(en, appeal, fields={"root_cause": "人手不足", "corrective_actions": "", "preventive_steps": "排班"})
    assert missing.status_code == 422 and "人手不足" in missing.get_data(as_text=True)  # input kept
    bad = submit(en, appeal, fields={"root_cause": "a", "corrective_actions": "b", "preventive_steps": "c",
                                     "files": [(b"MZ not a pdf", "x.exe")]})
    assert bad.status_code == 422 and "Only PDF, JPEG or PNG" in bad.get_data(as_text=True)
    sent = submit(en, appeal, fields={"root_cause": "人手不足", "corrective_actions": "增加护理员",
                                      "preventive_steps": "每周复核", "files": [(PDF, "整改计划.pdf")]},
                  follow_redirects=True)
    assert sent.status_code == 200
    db.session.refresh(item)
    assert item.status == ReportStatus.APPEALED
    stored = db.session.scalar(sa.select(AppealFile))
    assert en.get(f"/supervision/appeal-files/{stored.id}").data == PDF
    auth.logout()
    # Another provider's staff cannot see the report nor the file.
    _other, other_staff = provider_with_staff()
    auth.login(other_staff)
    assert en.get(f"/provider/supervision/reports/{item.id}/appeal").status_code == 404
    assert en.get(f"/supervision/appeal-files/{stored.id}").status_code == 404
    auth.logout()
    auth.login(confirmer)
    own = open_page(en, f"/official/supervision/reports/{item.id}/decide")  # no form for them: the page says why
    assert "appeal-decision" not in own.html and "a different official must decide the appeal" in own.html
    auth.logout()
    auth.login(factories.official())
    decided = on_decide_page(en, item, "appeal-decision", {"outcome": "rejected", "reason": "整改不足"},
                             follow_redirects=True)
    assert decided.status_code == 200
    db.session.refresh(item)
    assert item.status == ReportStatus.EFFECTIVE


def test_residents_and_providers_cannot_use_the_officials_pages(en, auth):
    provider, staff = provider_with_staff()
    item = report(provider)
    auth.login(staff)
    # Access rule: no page shows provider staff the form, so the post is hand-made.
    assert en.post(f"/official/supervision/reports/{item.id}/confirm", data={}).status_code == 403
    assert en.get("/official/supervision/dashboard").status_code == 403
    auth.logout()
    auth.login(factories.resident())
    assert en.get("/official/supervision/queue").status_code == 403
    assert en.get(f"/provider/supervision/reports/{item.id}/appeal").status_code == 403


def test_the_dashboard_draws_inline_svg_charts(en, auth):
    provider, _ = provider_with_staff()
    report(provider)
    auth.login(factories.official())
    page = en.get("/official/supervision/dashboard").get_data(as_text=True)
    assert page.count("<svg") == 3 and "Penalty reports by status" in page
    assert "<script" not in page.split("<main", 1)[-1].split("</main>", 1)[0]
    assert "http" not in page.split('<svg', 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org/2000/svg", "")


def test_the_sanction_job_is_registered_with_the_scheduler(app):
    from app.scheduler import build_scheduler

    assert "apply_due_sanctions" in {job.id for job in build_scheduler(app).get_jobs()}


def test_the_report_page_links_to_its_review(en, auth):
    provider, staff = provider_with_staff()
    item = report(provider)
    auth.login(staff)
    page = en.get(f"/provider/supervision/reports/{item.id}").get_data(as_text=True)
    assert f"/provider/supervision/reports/{item.id}/appeal" in page


def test_the_provider_reads_why_a_report_was_dismissed(en, auth):
    provider, staff = provider_with_staff()
    item = report(provider)
    review.dismiss(db.session, item.id, factories.official(), reason="住户原因导致迟到")
    db.session.commit()
    auth.login(staff)
    page = en.get(f"/provider/supervision/reports/{item.id}/appeal").get_data(as_text=True)
    assert 'id="review-dismissed"' in page and "住户原因导致迟到" in page
    assert "Appeal with a plan of action" not in page
