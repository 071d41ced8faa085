"""The provider's experience (issue 14), at phone and desktop size: the approval reaches the
staff as a notification and the dashboard's first-run checklist says what is left; a photo
that is not one is refused and the page opens at the upload field with its error; good photos
are resized and shown on the listing page and the catalogue card; the scorecard shows each
threshold beside its figure and marks what is over or close.  Every page passes axe-core
(steps.py); the screenshots are ``test-artifacts/i14-providers-*.png``."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from app.extensions import db
from providers import registration, uploads
from providers.listing_photos import ListingPhoto
from providers.models import DocumentKind, Listing, Provider
from ratings import scorecard as sc
from ratings import scorecard_views
from ratings.supervision import rules
from tests.browser import arrange
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import Journey
from tests.subsidy_helpers import PDF

SIZE_RUNS = [("zh", "phone"), ("zh", "desktop")]
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}


def shot(page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def photo(colour, size=(2400, 1600)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    for x in range(0, size[0], 200):  # stripes, so the resize is visible
        image.paste((255, 255, 255), (x, 0, x + 60, size[1]))
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def approved_provider(app, name: str) -> tuple[int, str]:
    """A housekeeping organisation with its business licence, approved by the district."""
    provider_id, phone = arrange.pending_provider(app, name, categories=("housekeeping",))
    with app.app_context():
        provider = db.session.get(Provider, provider_id)
        staff = arrange.staff_of(provider_id)
        stored = uploads.save_document(io.BytesIO(PDF), "营业执照.pdf")
        registration.add_document(db.session, provider, stored, kind=DocumentKind.BUSINESS_LICENCE,
                                  expires_on=date.today() + timedelta(days=400), actor=staff)
        db.session.commit()
    arrange.approve(app, provider_id)
    return provider_id, phone


def journey(browser, live_server, live_app, role: str, lang: str, size: str) -> Journey:
    made = Journey(browser, live_server, live_app, role, lang, size)
    width, height = VIEWPORTS[size]  # this desktop is 1280×900
    made.page.set_viewport_size({"width": width, "height": height})
    return made


@pytest.mark.parametrize(("lang", "size"), SIZE_RUNS)
def test_approval_is_notified_and_the_checklist_says_what_is_left(browser, live_server, live_app, lang, size):
    n = arrange.fresh_number()
    name = f"新起点家政{n}"
    _provider_id, phone = approved_provider(live_app, name)
    with journey(browser, live_server, live_app, "i14-checklist", lang, size) as j:
        page = j.page
        j.log_in(phone, password=arrange.PASSWORD)
        j.open("/notifications", "notifications")
        expect(page.locator("main")).to_contain_text(j.say(
            "The district approved %(provider)s. Next: publish a listing so residents can book you; the checklist "
            "on your dashboard shows what is left to do.", provider=name))
        j.open("/provider", "dashboard")
        checklist = page.locator("#first-steps")
        expect(checklist).to_be_visible()
        expect(page.locator("#step-documents")).to_have_class("done")
        for key in ("listing", "availability", "payout", "carers"):
            expect(page.locator(f"#step-{key}")).to_have_class("todo")
        expect(page.locator("#step-listing a")).to_have_attribute("href", "/provider/listings/new")
        expect(page.locator("#step-carers a")).to_have_attribute("href", "/provider/carers")
        checklist.scroll_into_view_if_needed()
        shot(page, f"i14-providers-checklist-{size}.png")


@pytest.mark.parametrize(("lang", "size"), SIZE_RUNS)
def test_photos_are_checked_resized_and_shown(browser, live_server, live_app, tmp_path, lang, size):
    n = arrange.fresh_number()
    provider_id, phone = approved_provider(live_app, f"光亮保洁{n}")
    title = f"上门深度保洁{n}"
    with journey(browser, live_server, live_app, "i14-photos", lang, size) as j:
        page = j.page
        j.log_in(phone, password=arrange.PASSWORD)
        j.open("/provider/listings/new", "new-listing")
        with live_app.app_context():
            page.select_option("select[name=category_id]", str(arrange.category_id("housekeeping")))
        page.fill("input[name=title]", title)
        page.fill("textarea[name=description]", "两小时深度保洁，自带工具。")
        page.fill("input[name=price]", "120")
        page.check("input[name=mon-available]")
        page.check("input[name=wed-available]")
        # A text file renamed .jpg: refused, by its content.
        page.set_input_files("input[name=photos]", files=[
            {"name": "门头.jpg", "mimeType": "image/jpeg", "buffer": photo((20, 110, 60))},
            {"name": "假照片.jpg", "mimeType": "image/jpeg", "buffer": "这不是照片\n".encode() * 50},
        ])
        j.submit("main form.stack")
        expect(page.locator("#photos-error")).to_contain_text(
            j.say("“%(name)s” is not a photo: only JPEG, PNG or WebP images are accepted.", name="假照片.jpg"))
        expect(page.locator("[data-error-summary]")).to_be_visible()
        # The page opens at the upload field: it has the focus and is on screen.
        expect(page.locator("input[name=photos]")).to_be_focused()
        in_view = page.evaluate("""() => { const r = document.activeElement.getBoundingClientRect();
            return document.activeElement.name === 'photos' && r.top >= 0 && r.bottom <= window.innerHeight; }""")
        assert in_view
        with live_app.app_context():
            assert db.session.scalar(sa.select(Listing.id).where(Listing.provider_id == provider_id)) is None
        # What the person sees on opening the page (before steps.py scrolls back to the top).
        shot(page, f"i14-providers-upload-error-{size}.png", full_page=False)
        j.step("upload-refused")

        # The same two good photos: saved, resized, shown.
        page.set_input_files("input[name=photos]", files=[
            {"name": "门头.jpg", "mimeType": "image/jpeg", "buffer": photo((20, 110, 60))},
            {"name": "工具.jpg", "mimeType": "image/jpeg", "buffer": photo((30, 60, 160), size=(1200, 1800))},
        ])
        j.submit("main form.stack")
        j.expect_url(r"/provider/listings$")
        j.step("saved")
        with live_app.app_context():
            listing_id = db.session.scalar(sa.select(Listing.id).where(Listing.provider_id == provider_id))
            sizes = [(p.width, p.height, p.thumb_width) for p in db.session.scalars(
                sa.select(ListingPhoto).where(ListingPhoto.listing_id == listing_id).order_by(ListingPhoto.position))]
        assert [max(w, h) for w, h, _t in sizes] == [1600, 1600] and [t for *_wh, t in sizes] == [480, 320]
        with page.expect_navigation():
            page.locator(f"form[action$='/provider/listings/{listing_id}/status'] button[value=published]").click()
        j.step("published")

        j.open(f"/listings/{listing_id}")
        images = page.locator("#listing-photos img")
        expect(images).to_have_count(2)
        expect(images.first).to_have_attribute("alt", title)
        page.wait_for_function("() => [...document.querySelectorAll('#listing-photos img')].every(i => i.complete && i.naturalWidth > 0)")
        j.step("listing-photos")
        shot(page, f"i14-providers-listing-photos-{size}.png")

        j.open("/catalogue?community=all&q=" + title)
        card = page.locator(f"article.card:has(a:text('{title}')) img.card-thumb")
        expect(card).to_have_attribute("alt", title)
        page.wait_for_function("() => [...document.querySelectorAll('img.card-thumb')].every(i => i.complete && i.naturalWidth > 0)")
        j.step("catalogue-card")
        shot(page, f"i14-providers-catalogue-card-{size}.png")


def marked_provider(app) -> int:
    """The demo provider whose scorecard has the most figures over or close to a threshold."""
    with app.test_request_context():
        rule_set = rules.current(db.session)
        window = sc.current_window(sc.default_window_days())
        best, best_score = None, -1
        for provider_id in db.session.scalars(sa.select(Provider.id).order_by(Provider.id)):
            marks = scorecard_views.threshold_marks(rule_set, sc.scorecard(db.session, provider_id, window))
            score = sum({"breach": 10, "near": 1}.get(m.state, 0) for found in marks.values() for m in found)
            if score > best_score:
                best, best_score = provider_id, score
        return best


@pytest.mark.parametrize(("lang", "size"), SIZE_RUNS)
def test_the_scorecard_shows_thresholds_and_marks(browser, live_server, live_app, lang, size):
    provider_id = marked_provider(live_app)
    with journey(browser, live_server, live_app, "i14-scorecard", lang, size) as j:
        page = j.page
        j.log_in(arrange.OFFICIAL)
        j.open(f"/official/providers/{provider_id}/scorecard", "scorecard")
        expect(page.locator("#figure-late_rate [data-threshold=late]")).to_contain_text("10%")
        expect(page.locator("#threshold-summary")).to_be_visible()
        assert page.locator("[data-threshold]").count() == len(rules.THRESHOLDS)
        shot(page, f"i14-providers-scorecard-{size}.png")
