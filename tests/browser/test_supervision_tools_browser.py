"""The officials' supervision tools in a browser, on a phone and on a desktop: preview an
evaluation run and store it; the official who confirmed a penalty report is not offered the
appeal decision (the page says why); a list downloads as CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import local, now
from app.extensions import db
from app.models import User
from providers.models import ProviderStaff
from ratings.supervision import appeals
from ratings.supervision.models import EvaluationRun
from ratings.supervision.runs import evaluation_time
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import log_in

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
CONFIRMER, STAFF = "13900000001", "13700000002"
PLAN = {"root_cause": "人手不足", "corrective_actions": "增加人手", "preventive_steps": "每周复核排班"}


def free_day(app):
    """A past day no run is stored for (the session's live app is shared by the browser tests)."""
    with app.app_context():
        day = local(now()).date() - timedelta(days=1)
        while db.session.scalar(sa.select(EvaluationRun.id).where(
                EvaluationRun.as_of == evaluation_time(db.session, day.isoformat()))) is not None:
            day -= timedelta(days=1)
        db.session.rollback()
        return day


def appealed_report(app, confirmer_phone: str) -> int:
    """A penalty report of 洁美家政 (its staff 13700000002) confirmed by ``confirmer_phone`` and appealed."""
    with app.app_context():
        staff = db.session.scalar(sa.select(User).where(User.phone == STAFF))
        provider_id = db.session.get(ProviderStaff, staff.id).provider_id
    report_id = arrange.penalty_report(app, provider_id, confirmed_by=confirmer_phone)
    with app.app_context():
        staff = db.session.scalar(sa.select(User).where(User.phone == STAFF))
        appeals.submit(db.session, report_id, provider_id=provider_id, staff=staff, **PLAN)
        db.session.commit()
    return report_id


@pytest.mark.parametrize("size", list(SIZES))
def test_preview_store_four_eyes_and_csv(browser, live_server, live_app, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        log_in(page, live_server, CONFIRMER)
        day = free_day(live_app)

        # Preview: what the run would find, nothing stored.
        page.goto(f"{live_server}/official/supervision/runs")
        page.locator("#run-evaluation").click()
        page.fill("input[name=as_of]", day.isoformat())
        page.locator("#evaluate-form button[type=submit]").click()
        expect(page.locator("#preview")).to_be_visible()
        expect(page.locator("#store-form")).to_be_visible()
        with live_app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluationRun).where(
                EvaluationRun.as_of == evaluation_time(db.session, day.isoformat()))) == 0
        assert_accessible(page)
        page.screenshot(path=str(ARTIFACTS / f"i14-supervision-preview-{size}.png"), full_page=True)

        # Store this run: the run's page opens with the message.
        page.locator("#store-form button[type=submit]").click()
        expect(page.locator(".flash").first).to_be_visible()
        assert "/official/supervision/runs/" in page.url
        assert_accessible(page)
        page.screenshot(path=str(ARTIFACTS / f"i14-supervision-stored-{size}.png"), full_page=True)

        # The official who confirmed the report is offered no decision on its appeal.
        report_id = appealed_report(live_app, CONFIRMER)
        page.goto(f"{live_server}/official/supervision/reports/{report_id}/decide")
        expect(page.locator("#appeal-refusal")).to_contain_text("须由另一名官员裁决申诉")
        expect(page.locator("form[action$='/appeal-decision']")).to_have_count(0)
        assert_accessible(page)
        page.screenshot(path=str(ARTIFACTS / f"i14-supervision-appeal-other-official-{size}.png"), full_page=True)

        # A list downloads as CSV with its filter.
        page.goto(f"{live_server}/official/supervision/reports?status=appealed")
        with page.expect_download() as info:
            page.locator("#csv-link").click()
        download = info.value
        assert download.suggested_filename == "penalty-reports.csv"
        text = open(download.path(), encoding="utf-8-sig").read()
        assert text.splitlines()[0].split(",")[0] == "报告"  # localized headers
        assert f"{report_id}," in text
        page.locator("#csv-link").scroll_into_view_if_needed()
        assert_accessible(page)
        page.screenshot(path=str(ARTIFACTS / f"i14-supervision-csv-link-{size}.png"), full_page=True)
    finally:
        context.close()
