"""Supervision end to end: the evaluator runs on the demo data, an official confirms a
penalty report, the provider appeals with a plan of action and a file, and another
official decides the appeal."""

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import local, now
from app.extensions import db
from ratings.supervision.models import PenaltyReport, ReportStatus
from tests.browser.arrange import PDF
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import desktop, log_in


def test_evaluate_confirm_appeal_and_decide(browser, page, live_server, live_app, live_clock):
    # The evaluator runs on the demo data (as the CLI does): 洁美家政 is late and poorly rated.
    with live_app.app_context():
        day = local(now()).date().replace(day=1)
        if local(now()).hour == 0 and local(now()).day == 1:
            day -= timedelta(days=1)
    result = live_app.test_cli_runner().invoke(args=["evaluate", "--as-of", day.isoformat()])
    assert result.exit_code == 0, result.output
    assert "洁美家政" in result.output
    with live_app.app_context():
        report_id = db.session.scalar(
            sa.select(PenaltyReport.id).join(PenaltyReport.provider)
            .where(PenaltyReport.metric == "late", PenaltyReport.status == ReportStatus.PROPOSED)
            .order_by(PenaltyReport.id.desc()).limit(1))
    assert report_id is not None

    # The first official confirms it from the review queue.
    official = desktop(browser)
    log_in(official, live_server, "13900000001")
    official.goto(f"{live_server}/official/supervision/queue")
    official.locator(f"#queue-{report_id} a").first.click()
    official.locator("form[action$='/confirm'] button[type=submit]").click()
    expect(official.locator(".flash").first).to_be_visible()
    expect(official.locator("#appeal-deadline")).to_be_visible()
    assert_accessible(official)
    official.screenshot(path="test-artifacts/supervision_confirmed.png", full_page=True)
    official.context.close()

    # The provider appeals on a phone with a plan of action and a PDF.
    log_in(page, live_server, "13700000002")
    page.goto(f"{live_server}/provider/supervision/reports/{report_id}/appeal")
    page.fill("textarea[name=root_cause]", "十月保洁员人手不足，排班过满。")
    page.fill("textarea[name=corrective_actions]", "新招两名保洁员，已恢复正常排班。")
    page.fill("textarea[name=preventive_steps]", "每周复核排班，超过八成满即暂停接单。")
    page.set_input_files("input[name=files]", files=[{"name": "整改计划.pdf", "mimeType": "application/pdf",
                                                      "buffer": PDF}])
    page.locator("form[action$='/appeal'] button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()
    expect(page.locator("#appeal")).to_contain_text("整改计划.pdf")

    # The official who confirmed it may not decide; another official rejects the appeal.
    same = desktop(browser)
    log_in(same, live_server, "13900000001")
    same.goto(f"{live_server}/official/supervision/reports/{report_id}/decide")
    expect(same.locator("#appeal-refusal")).to_be_visible()  # no form for them, and the page says why
    expect(same.locator("form[action$='/appeal-decision']")).to_have_count(0)
    same.context.close()
    with live_app.app_context():
        assert db.session.get(PenaltyReport, report_id).status == ReportStatus.APPEALED

    other = desktop(browser)
    log_in(other, live_server, "13900000002")
    other.goto(f"{live_server}/official/supervision/reports/{report_id}/decide")
    expect(other.locator("#appeal")).to_contain_text("十月保洁员人手不足")
    other.locator("input[name=outcome][value=rejected]").check()
    other.fill("textarea[name=reason]", "迟到比例仍高，警告维持。")
    other.locator("form[action$='/appeal-decision'] button[type=submit]").click()
    expect(other.locator(".flash").first).to_be_visible()
    expect(other.locator("#appeal-outcome")).to_contain_text("迟到比例仍高")
    assert_accessible(other)
    other.screenshot(path="test-artifacts/supervision_appeal_decided.png", full_page=True)
    other.context.close()
    with live_app.app_context():
        assert db.session.get(PenaltyReport, report_id).status == ReportStatus.EFFECTIVE

    # The provider sees the warning on its scorecard.
    page.goto(f"{live_server}/provider/scorecard")
    expect(page.locator("#supervision-sanctions")).to_be_visible()
