"""Due process end to end: a visitor reads the rules in force; a provider downloads the
statement of reasons of a confirmed sanction and asks for a human review of its grade; an
official decides the review and the provider sees the changed grade."""

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import now
from app.extensions import db
from ratings.supervision import rules
from ratings.supervision.dueprocess_models import GradeReview
from ratings.supervision.models import EvaluationRun, Grade, ProviderSnapshot
from tests.browser.accessibility import assert_accessible
from tests.browser.arrange import OFFICIAL, fresh_number, penalty_report, provider_named
from tests.browser.steps import desktop, log_in

PROVIDER_STAFF = "13700000002"  # 洁美家政 (demo)


def _graded(app, provider_id: int) -> int:
    """A recent evaluation grading the provider "qualified" (a run of its own as-of)."""
    with app.app_context():
        as_of = now() - timedelta(days=3, minutes=fresh_number())
        run = EvaluationRun(as_of=as_of, rule_set_id=rules.current(db.session).id, trigger="cli", grade_counts={})
        db.session.add(run)
        db.session.flush()
        snapshot = ProviderSnapshot(run_id=run.id, provider_id=provider_id, grade=Grade.QUALIFIED, active_since=as_of,
                                    window_start=as_of - timedelta(days=90), window_end=as_of, window_days=90,
                                    figures={}, breaches=["late"], near=[])
        db.session.add(snapshot)
        db.session.commit()
        return snapshot.id


def test_rules_statement_and_grade_review(browser, page, live_server, live_app):
    # A visitor, not logged in, reads every threshold and the ladder.
    visitor = desktop(browser)
    visitor.goto(f"{live_server}/rules")
    expect(visitor.locator("#in-force")).to_be_visible()
    expect(visitor.locator("#threshold-late")).to_contain_text("10")
    expect(visitor.locator("#ladder li")).to_have_count(4)
    expect(visitor.locator("#history tbody tr").first).to_be_visible()
    assert_accessible(visitor)
    visitor.screenshot(path="test-artifacts/rules_public.png", full_page=True)
    visitor.context.close()

    provider_id = provider_named(live_app, "洁美家政服务有限公司")
    report_id = penalty_report(live_app, provider_id, confirmed_by=OFFICIAL)
    snapshot_id = _graded(live_app, provider_id)

    # The provider downloads the statement of reasons of the confirmed sanction.
    log_in(page, live_server, PROVIDER_STAFF)
    page.goto(f"{live_server}/provider/supervision/reports/{report_id}/appeal")
    with page.expect_download() as download:
        page.locator("#statement-link").click()
    assert download.value.suggested_filename == f"statement-of-reasons-{report_id}.md"
    text = open(download.value.path(), encoding="utf-8").read()
    assert f"#{report_id}" in text and "王科长" in text and f"/provider/supervision/reports/{report_id}/appeal" in text

    # … and asks for a human review of its grade.
    page.goto(f"{live_server}/provider/supervision/grades")
    form = page.locator(f"form[action$='/grades/{snapshot_id}/review']")
    form.locator("textarea[name=reason]").fill("十月暴雨封路，迟到属不可抗力。")
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#waiting-{snapshot_id}")).to_be_visible()
    assert_accessible(page)
    with live_app.app_context():
        review_id = db.session.scalar(sa.select(GradeReview.id).where(GradeReview.snapshot_id == snapshot_id))

    # An official changes the grade, with a reason.
    official = desktop(browser)
    log_in(official, live_server, OFFICIAL)
    official.goto(f"{live_server}/official/supervision/grade-reviews")
    item = official.locator(f"#grade-review-{review_id}")
    expect(item).to_contain_text("十月暴雨封路")
    item.locator("input[name=outcome][value=changed]").check()
    item.locator("select[name=new_grade]").select_option("good")
    item.locator("textarea[name=reason]").fill("核实暴雨封路，迟到不计。")
    item.locator("button[type=submit]").click()
    expect(official.locator(".flash").first).to_be_visible()
    expect(official.locator(f"#grade-review-{review_id}")).to_have_count(0)
    assert_accessible(official)
    official.screenshot(path="test-artifacts/grade_review_decided.png", full_page=True)
    official.context.close()

    page.goto(f"{live_server}/provider/supervision/grades")
    expect(page.locator(f"#grade-{snapshot_id} h2")).to_contain_text("良好")
    expect(page.locator("#reviews")).to_contain_text("核实暴雨封路")
