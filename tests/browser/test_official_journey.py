"""An official's whole journey, in Chinese and in English, on a phone and on a desktop: approve a
provider, run a purchase programme (draft, award, open, enrol, budget), review a subsidy claim and
a penalty report.  Every page passes axe-core (steps.py).

What the others did before is made through their services (arrange.py): a provider registered and
waits for review, a resident signed up, the provider filed a claim, an evaluation proposed a penalty.
Their own pages are walked in test_resident_journey.py and test_provider_journey.py.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.clock import local
from billing.programmes.models import PROGRAMME_STATUS_LABELS, ProgrammeStatus
from billing.subsidies.models import CLAIM_STATUS_LABELS, ClaimStatus
from providers.models import PROVIDER_STATUS_LABELS, ProviderStatus
from ratings.supervision.models import SANCTION_LABELS, Sanction
from tests.browser import arrange
from tests.browser.steps import RUNS, Journey


@pytest.mark.parametrize(("lang", "size"), RUNS)
def test_official_approves_runs_a_programme_and_reviews_a_claim_and_a_penalty(
        browser, live_server, live_app, live_clock, lang, size):
    n = arrange.fresh_number()
    name, title, resident = f"颐康居家照护站{n}", f"独居老人居家照护{n}", f"陈阿婆{n}"
    provider_id, _staff = arrange.pending_provider(live_app, name, categories=("home_care",))
    resident_phone = arrange.resident(live_app, resident)
    chosen = arrange.ids(live_app)
    with Journey(browser, live_server, live_app, "official", lang, size) as j:
        page = j.page
        j.choose_language()
        j.log_in(arrange.OFFICIAL, "linli-demo")

        # Vet the new provider: approve it; the audit trail names the official.
        j.open("/official/providers", "vetting-queue")
        j.follow(f"main a[href='/official/providers/{provider_id}']")
        j.expect_badge("main p .badge", "pending", PROVIDER_STATUS_LABELS[ProviderStatus.PENDING])
        j.step("provider")
        j.submit("form:has(input[name=action][value=approve])")
        j.expect_badge("main p .badge", "active", PROVIDER_STATUS_LABELS[ProviderStatus.ACTIVE])
        expect(page.locator("main table").last).to_contain_text("王科长")
        j.step("approved")

        # Run a purchase programme: draft every contract term, award it, open it, enrol a resident.
        j.open("/official/programmes", "programmes")
        j.follow("main a[href='/official/programmes/new']")
        start = local(live_clock.now()).date()
        page.fill("input[name=title]", title)
        page.fill("textarea[name=service_content]", "上门助浴、助洁、陪伴")
        page.check(f"input[name=categories][value='{chosen['home_care']}']")
        page.fill("input[name=start_date]", start.isoformat())
        page.fill("input[name=end_date]", (start + timedelta(days=180)).isoformat())
        page.fill("input[name=quantity]", "200")
        page.fill("textarea[name=quality_requirements]", "护理员持证上岗")
        page.fill("input[name=unit_price]", "50")
        page.fill("textarea[name=settlement_method]", "按月结算")
        page.fill("textarea[name=performance_targets]", "准时率不低于95%")
        page.fill("textarea[name=breach_liability]", "不合格服务扣减10%")
        page.fill("input[name=budget]", "10000")
        page.check(f"input[name=communities][value='{chosen['chengli']}']")
        page.fill("input[name=min_age]", "60")
        page.check("input[name=requires_living_alone]")
        page.fill("input[name=allowance_per_month]", "4")
        j.step("new-programme")
        j.submit()
        j.expect_url(r"/official/programmes/\d+$")
        j.expect_flash("The programme is saved as a draft. Award it, then open it.")
        j.expect_badge("#programme-status", "draft", PROGRAMME_STATUS_LABELS[ProgrammeStatus.DRAFT])
        j.step("draft")
        page.select_option("select[name=provider_id]", str(provider_id))
        page.fill("input[name=contract_price]", "50")
        page.fill("input[name=quota]", "200")
        j.submit("form[action$='/awards']")
        j.expect_flash("The programme is awarded.")
        expect(page.locator("#awards")).to_contain_text(name)
        j.step("awarded")
        page.locator("#open-programme").click()
        j.expect_flash("The programme is open and published; its budget is committed.")
        j.expect_badge("#programme-status", "open", PROGRAMME_STATUS_LABELS[ProgrammeStatus.OPEN])
        j.step("opened")
        page.fill("#enrol-form input[name=phone]", resident_phone)
        page.fill("#enrol-form input[name=birth_date]", "1946-03-08")
        page.check("#enrol-form input[name=lives_alone]")
        j.submit("#enrol-form")
        j.expect_flash("The resident is enrolled and notified.")
        expect(page.locator("#enrolments")).to_contain_text(resident)
        j.step("enrolled")
        j.follow("#budget-link")
        expect(page.locator("#committed")).to_have_text("¥10,000.00")
        expect(page.locator("#remaining")).to_have_text("¥10,000.00")
        expect(page.locator("#budget-chart svg")).to_be_visible()
        j.step("budget")

        # Review a subsidy claim the provider filed: the district verifies it.
        claim_id = arrange.subsidy_claim(live_app, provider_id, f"照护站交流慢充{n}")
        j.open("/official/subsidies", "claims")
        j.follow(f"#claims a[href$='/official/subsidies/claims/{claim_id}']")
        j.expect_badge("#claim-status", "submitted", CLAIM_STATUS_LABELS[ClaimStatus.SUBMITTED])
        expect(page.locator("main")).to_contain_text("验收证书.pdf")
        j.step("claim")
        page.fill("#verify-form textarea[name=note]", "资料齐全，现场核验20kW")
        j.submit("#verify-form")
        j.expect_flash("The claim is verified.")
        j.expect_badge("#claim-status", "verified", CLAIM_STATUS_LABELS[ClaimStatus.VERIFIED])
        j.step("verified")

        # Review a penalty report an evaluation proposed: read the evidence, confirm the warning.
        report_id = arrange.penalty_report(live_app, provider_id)
        j.open("/official/supervision/queue", "penalty-queue")
        j.follow(f"#queue-{report_id} a")
        j.expect_url(rf"/official/supervision/reports/{report_id}/decide$")
        j.step("penalty-report")
        j.follow(f"main a[href$='/official/supervision/reports/{report_id}']")
        expect(page.locator("#report-sanction")).to_contain_text(j.say(SANCTION_LABELS[Sanction.WARNING]))
        j.step("penalty-evidence")
        j.follow("#review-link")
        j.submit("form[action$='/confirm']")
        j.expect_flash("Report #%(n)d confirmed: %(s)s. The provider may appeal within 7 days.", n=report_id,
                       s=j.say(SANCTION_LABELS[Sanction.WARNING]))
        expect(page.locator("#appeal-deadline")).to_be_visible()
        j.step("penalty-confirmed")
