"""A provider's whole journey, in Chinese and in English, on a phone and on a desktop: register the
organisation, get approved, list a service, serve a booking, claim a subsidy, appeal a penalty.
Every page passes axe-core (steps.py).

What others do in between goes through their services (arrange.py): the district approves the
registration, a resident books the new listing, an evaluation proposes a penalty and an official
confirms it.  The officials' own pages are walked in test_official_journey.py.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.clock import local
from billing.subsidies.models import CLAIM_STATUS_LABELS, ClaimStatus
from providers.bookings.models import BOOKING_STATUS_LABELS, BookingStatus
from providers.models import LISTING_STATUS_LABELS, PROVIDER_STATUS_LABELS, ListingStatus, ProviderStatus
from ratings.supervision.models import REPORT_STATUS_LABELS, ReportStatus
from tests.browser import arrange
from tests.browser.arrange import PDF, PNG
from tests.browser.steps import RUNS, Journey


@pytest.mark.parametrize(("lang", "size"), RUNS)
def test_provider_registers_lists_serves_claims_and_appeals(browser, live_server, live_app, live_clock, lang, size):
    n = arrange.fresh_number()
    name, title, phone = f"邻家保洁服务社{n}", f"老旧小区厨房深度清洁{n}", arrange.fresh_phone("136")
    chosen = arrange.ids(live_app)
    with Journey(browser, live_server, live_app, "provider", lang, size) as j:
        page = j.page
        j.choose_language()

        # Register the organisation and its first account: pending the district's review.
        j.follow("a[href='/providers/register']")
        page.fill("input[name=name]", name)
        page.fill("input[name=credit_code]", arrange.fresh_credit_code())
        page.fill("input[name=legal_representative]", "钱法人")
        page.fill("input[name=contact_name]", "孙联系")
        page.fill("input[name=contact_phone]", phone)
        page.check(f"input[name=category_ids][value='{chosen['housekeeping']}']")
        page.check(f"input[name=community_ids][value='{chosen['chengli']}']")
        page.fill("input[name=staff_name]", "孙联系")
        page.fill("input[name=staff_phone]", phone)
        page.fill("input[name=password]", arrange.PASSWORD)
        j.step("register")
        j.submit()
        # A code goes to the staff phone by SMS (the embedded outbox); entering it registers.
        j.expect_url(r"/providers/register/verify$")
        page.fill("input[name=code]", arrange.sms_code(live_app, phone))
        j.step("register-code")
        j.submit()
        j.expect_url(r"/provider$")
        j.expect_flash("%(name)s is registered and waits for review by the district.", name=name)
        j.expect_badge("main .badge", "pending", PROVIDER_STATUS_LABELS[ProviderStatus.PENDING])
        j.step("pending")

        # The district approves it.
        arrange.approve(live_app, arrange.provider_named(live_app, name))
        page.reload()
        j.expect_badge("main .badge", "active", PROVIDER_STATUS_LABELS[ProviderStatus.ACTIVE])
        j.step("approved")

        # List a service: a draft first, then published.
        j.follow("main a[href='/provider/listings']")
        j.step("my-listings")
        j.follow("main a[href='/provider/listings/new']")
        page.select_option("select[name=category_id]", str(chosen["housekeeping"]))
        page.fill("input[name=title]", title)
        page.fill("textarea[name=description]", "油烟机拆洗、灶台除垢、橱柜内外擦拭。")
        page.fill("input[name=price]", "150")
        page.fill("input[name=duration_minutes]", "120")
        page.fill("input[name=response_hours]", "4")
        page.check(f"input[name=community_ids][value='{chosen['chengli']}']")
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            page.check(f"input[name='{day}-available']")
            page.fill(f"input[name='{day}-start']", "09:00")
            page.fill(f"input[name='{day}-end']", "17:00")
            page.fill(f"input[name='{day}-capacity']", "2")
        j.step("new-listing")
        j.submit()
        j.expect_url(r"/provider/listings$")
        j.expect_flash("“%(title)s” is saved as a draft. Publish it when you are ready.", title=title)
        card = page.locator("main article.card", has_text=title)
        card.locator("button[name=status][value=published]").click()
        j.expect_flash("“%(title)s” is now %(status)s.", title=title,
                       status=j.say(LISTING_STATUS_LABELS[ListingStatus.PUBLISHED]))
        j.expect_badge(f"main article.card:has-text('{title}') .badge", "published",
                       LISTING_STATUS_LABELS[ListingStatus.PUBLISHED])
        j.step("published")
        listing_id = int(card.get_attribute("id").removeprefix("listing-"))

        # A resident books it; the provider finds the request in its agenda and serves it.
        booking_id = arrange.book_first_slot(live_app, arrange.resident(live_app, "周大爷"), listing_id)
        arrange.add_carer(live_app, arrange.provider_named(live_app, name))  # accepting names a carer
        j.open("/provider/bookings?view=list", "agenda")
        j.follow(f"#booking-{booking_id} a")
        j.expect_badge("main .lead .badge", "requested", BOOKING_STATUS_LABELS[BookingStatus.REQUESTED])
        j.step("booking-request")
        j.submit("form[action$='/accept']")
        j.expect_flash("You accepted the booking.")
        j.step("accepted")
        starts, ends = arrange.booking_times(live_app, booking_id)
        live_clock.set(starts + timedelta(minutes=5))
        page.reload()
        j.submit("form[action$='/check-in']")
        j.expect_flash("You checked in: the service has started.")
        j.expect_badge("main .lead .badge", "in_service", BOOKING_STATUS_LABELS[BookingStatus.IN_SERVICE])
        j.step("checked-in")
        live_clock.set(ends + timedelta(minutes=5))
        page.reload()
        j.submit("form[action$='/complete']")
        j.expect_flash("The service is marked as done.")
        j.expect_badge("main .lead .badge", "completed", BOOKING_STATUS_LABELS[BookingStatus.COMPLETED])
        j.step("completed")

        # Build-then-subsidise: register a charging project, build it, claim with the evidence.
        j.open("/provider/subsidies", "subsidies")
        j.follow("#new-project")
        page.select_option("select[name=community_id]", str(chosen["chengli"]))
        page.select_option("select[name=project_type]", "ev_charger_ac")
        page.fill("input[name=title]", f"小区交流慢充{n}")
        page.fill("input[name=planned_quantity]", "20")
        page.fill("input[name=planned_investment]", "40000")
        j.step("new-project")
        j.submit()
        j.expect_url(r"/provider/subsidies/projects/\d+$")
        j.expect_flash("The project is registered. File the claim after its acceptance.")
        j.step("project")
        live_clock.set(live_clock.now() + timedelta(days=14))
        page.reload()
        page.fill("input[name=accepted_on]", local(live_clock.now()).date().isoformat())
        page.fill("input[name=verified_quantity]", "20")
        page.fill("input[name=verified_investment]", "40000")
        page.set_input_files("input[name=acceptance_certificate]",
                             files=[{"name": "验收证书.pdf", "mimeType": "application/pdf", "buffer": PDF}])
        page.set_input_files("input[name=invoices]",
                             files=[{"name": "发票.pdf", "mimeType": "application/pdf", "buffer": PDF}])
        page.set_input_files("input[name=photos]", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}])
        j.step("claim-form")
        j.submit("#claim-form")
        j.expect_url(r"/provider/subsidies/claims/\d+$")
        j.expect_flash("The claim is filed; the district verifies it next.")
        # ¥150 a kW × 20 kW = ¥3,000.00 binds (30 % of ¥40,000 would be ¥12,000).
        expect(page.locator("#eligible")).to_have_text("¥3,000.00")
        j.expect_badge("#claim-status", "submitted", CLAIM_STATUS_LABELS[ClaimStatus.SUBMITTED])
        j.step("claimed")

        # An evaluation proposes a warning for late arrivals; an official confirms it.  The provider
        # is told, and appeals with a plan of action and a file.
        report_id = arrange.penalty_report(live_app, arrange.provider_named(live_app, name),
                                           confirmed_by=arrange.OFFICIAL)
        j.open("/notifications")
        notice = page.locator("main article.card").first
        expect(notice).to_contain_text(f"#{report_id}")
        j.step("notified")
        notice.locator("button[type=submit]").click()
        j.expect_url(rf"/provider/supervision/reports/{report_id}/appeal$")
        expect(page.locator("#report-status")).to_have_text(j.say(REPORT_STATUS_LABELS[ReportStatus.CONFIRMED]))
        page.fill("textarea[name=root_cause]", "新人上岗前未做路线熟悉，迟到较多。")
        page.fill("textarea[name=corrective_actions]", "已安排老员工带班，出发时间提前半小时。")
        page.fill("textarea[name=preventive_steps]", "每周复核签到记录，迟到两次即复训。")
        page.set_input_files("input[name=files]",
                             files=[{"name": "整改计划.pdf", "mimeType": "application/pdf", "buffer": PDF}])
        j.step("appeal")
        j.submit()
        j.expect_flash("Your appeal is submitted. An official who did not confirm the sanction will decide it.")
        expect(page.locator("#report-status")).to_have_text(j.say(REPORT_STATUS_LABELS[ReportStatus.APPEALED]))
        expect(page.locator("main")).to_contain_text("整改计划.pdf")
        j.step("appealed")
