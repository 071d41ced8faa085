"""Build-then-subsidise in the browser: a provider registers a project, builds it and
claims; two officials approve; the notice period passes (moved clock); it is paid."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from app.clock import local
from app.extensions import db
from billing import ledger
from tests.browser.accessibility import assert_accessible
from tests.browser.steps import desktop, log_in
from tests.subsidy_helpers import PDF, PNG


def submit(page, form_selector):
    page.locator(f"{form_selector} button[type=submit]").click()
    expect(page.locator(".flash").first).to_be_visible()


def test_provider_claims_two_officials_approve_notice_passes_subsidy_paid(browser, page, live_server, live_app,
                                                                          live_clock):
    # 洁美家政 (active) registers AC chargers in 般阳社区 before building.
    log_in(page, live_server, "13700000002")
    page.goto(live_server + "/provider/subsidies")
    page.locator("#new-project").click()
    page.select_option("select[name=community_id]", label="般阳社区")
    page.select_option("select[name=project_type]", "ev_charger_ac")
    page.fill("input[name=title]", "般阳社区电动车交流慢充")
    page.fill("input[name=planned_quantity]", "70")
    page.fill("input[name=planned_investment]", "120000")
    page.locator("main form.stack button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/provider/subsidies/projects/\d+$"))

    # Three weeks later it is built and accepted: the claim with its evidence.
    live_clock.set(live_clock.now() + timedelta(days=21))
    page.reload()
    page.fill("input[name=accepted_on]", local(live_clock.now()).date().isoformat())
    page.fill("input[name=verified_quantity]", "70")
    page.fill("input[name=verified_investment]", "120000")
    page.set_input_files("input[name=acceptance_certificate]",
                         files=[{"name": "验收证书.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("input[name=invoices]", files=[{"name": "发票.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("input[name=photos]", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}])
    page.locator("#claim-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/provider/subsidies/claims/\d+$"))
    claim_id = int(page.url.rsplit("/", 1)[1])
    # 150 × 70 = ¥10,500.00 binds (30 % of ¥120,000 is ¥36,000).
    expect(page.locator("#eligible")).to_have_text("¥10,500.00")
    expect(page.locator("#term-rate .binding-mark")).to_be_visible()

    # District verification by one official, city approval by another.
    district = desktop(browser)
    log_in(district, live_server, "13900000001")
    district.goto(f"{live_server}/official/subsidies")
    district.locator(f"a[href$='/official/subsidies/claims/{claim_id}']").click()
    district.fill("#verify-form textarea[name=note]", "资料齐全，现场核验70kW")
    submit(district, "#verify-form")
    expect(district.locator("#city-step-not-yours")).to_be_visible()  # the next step is not the verifier's:
    expect(district.locator("#approve-form")).to_have_count(0)  # the page says why instead of offering it
    expect(district.locator("#claim-status")).to_have_class(re.compile("badge-verified"))
    district.context.close()

    city = desktop(browser)
    log_in(city, live_server, "13900000002")
    city.goto(f"{live_server}/official/subsidies/claims/{claim_id}")
    submit(city, "#approve-form")
    expect(city.locator("#claim-status")).to_have_class(re.compile("badge-notice"))
    city.context.close()

    # The public notice runs 7 days; then the scheduler's job pays the subsidy.
    page.goto(f"{live_server}/subsidies/notices")
    expect(page.locator(f"#notice-{claim_id}")).to_be_visible()
    assert_accessible(page)
    live_clock.set(live_clock.now() + timedelta(days=7, minutes=20))
    from billing.subsidies.jobs import disburse_subsidies

    with live_app.app_context():
        assert disburse_subsidies(db.session) >= 1
        db.session.commit()
        assert ledger.is_balanced(db.session)
    page.goto(f"{live_server}/provider/subsidies/claims/{claim_id}")
    expect(page.locator("#claim-status")).to_have_class(re.compile("badge-disbursed"))
    expect(page.locator("#approved")).to_have_text("¥10,500.00")
    expect(page.locator("#obligation")).to_be_visible()
    assert_accessible(page)
