"""Every form shows every error at once (issue 14), on a phone and a desktop, in Chinese: the
complaint form's faults together (the photo's too) with the summary on top and the focus on the
first field at fault (the page opens at the upload field when it is that one); a refused form at
a POST-only address reloads to the page that showed it (no 405, nothing sent again), and that
address opened directly answers our own 405 page; the summary on the provider's details, the
carer form, the registration, the vetting decision and the password change; the provider's
number and the offline payment as pages that can be reloaded; notifications newest first.
Every page passes axe-core; screenshots ``test-artifacts/i14-forms-<what>-{phone,desktop}.png``."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from providers.models import Listing, Provider, ServiceCategory
from tests.browser import arrange
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import log_in

HOME_CARE = "安康居家养老服务中心"  # demo provider
SIZES = [pytest.param("phone", marks=pytest.mark.viewport(390, 844), id="phone"),
         pytest.param("desktop", marks=pytest.mark.viewport(1280, 900), id="desktop")]
NOT_A_PHOTO = b"just some text, not an image\n" * 20
ERRORS_405 = ("This address only receives a form; it is not a page to open. Go back to the page that "
              "shows the form.")  # app/errors.py


def _in_chinese(app, msgid: str) -> str:
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale("zh"):
        return gettext(msgid)


def _shot(page, what: str, size: str, *, full_page: bool = True) -> None:
    """Check the page with axe-core and save ``i14-forms-<what>-<size>.png`` (the viewport only when
    ``full_page`` is false: where the page opened)."""
    page.wait_for_load_state("load")
    assert_accessible(page, f"{what} ({size})")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"i14-forms-{what}-{size}.png"), full_page=full_page)


def _listing(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Listing.id).join(ServiceCategory, ServiceCategory.id == Listing.category_id)
            .join(Provider, Provider.id == Listing.provider_id)
            .where(ServiceCategory.code == "home_care", Provider.name == HOME_CARE).order_by(Listing.id).limit(1))


def _focused(page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.id")


def _in_view(page, selector: str) -> bool:
    return page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight; }""", selector)


def _summary_targets(page) -> list[str]:
    return page.eval_on_selector_all("[data-error-summary] a", "links => links.map(a => a.hash.slice(1))")


def _documents_sent(page) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.method, urlsplit(r.url).path))
            if r.resource_type == "document" else None)
    return sent


# --- 1. the complaint form ---------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_the_complaint_form_shows_every_fault_at_once(page, live_server, live_app, live_clock, size):
    n = arrange.fresh_number()
    resident = arrange.resident(live_app, f"柳阿姨{n % 100}")
    booking_id = arrange.book_first_slot(live_app, resident, _listing(live_app))
    arrange.accept(live_app, booking_id)
    arrange.serve(live_app, live_clock, booking_id)
    log_in(page, live_server, resident, arrange.PASSWORD)
    form = "main form[action$='/complain']"

    # Sent empty: the kind and the description, both, and the focus on the first.
    page.goto(f"{live_server}/bookings/{booking_id}/complain")
    page.locator(f"{form} button[type=submit]").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert _summary_targets(page) == ["kind", "description"]
    assert _focused(page) == "kind"
    _shot(page, "complain-empty", size)

    # No kind, 6000 characters and a text file named .jpg: all three faults, the photo's included.
    page.locator(f"{form} textarea[name=description]").fill("x" * 6000)
    page.set_input_files("#photos", files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": NOT_A_PHOTO}])
    page.locator(f"{form} button[type=submit]").click()
    expect(page.locator("[data-error-summary] li")).to_have_count(3)
    assert _summary_targets(page) == ["kind", "description", "photos"]
    expect(page.locator("#photos")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#photos-error")).to_be_visible()
    assert _focused(page) == "kind"
    _shot(page, "complain-multi", size)

    # Only the photo wrong: the page opens at the upload field, focused, what was typed kept.
    page.select_option(f"{form} select[name=kind]", "late")
    page.locator(f"{form} textarea[name=description]").fill("师傅迟到了一个小时。")
    page.set_input_files("#photos", files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": NOT_A_PHOTO}])
    page.locator(f"{form} button[type=submit]").click()
    expect(page.locator("[data-error-summary] li")).to_have_count(1)
    page.wait_for_load_state("load")
    assert _focused(page) == "photos" and _in_view(page, "#photos")
    expect(page.locator(f"{form} textarea[name=description]")).to_have_value("师傅迟到了一个小时。")
    _shot(page, "complain-photo", size, full_page=False)


# --- 2. reloading a refused form; a POST-only address opened directly -----------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_refused_form_at_a_post_only_address_reloads_to_its_page(page, live_server, live_app, size):
    n = arrange.fresh_number()
    _provider_id, staff = arrange.pending_provider(live_app, f"i14 表单测试家政 {n}")
    log_in(page, live_server, staff, arrange.PASSWORD)
    page.goto(f"{live_server}/provider")
    sent = _documents_sent(page)
    upload = page.locator("form[action$='/provider/documents']")
    upload.locator("button[type=submit]").click()  # no file chosen
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert urlsplit(page.url).path == "/provider"  # the history entry is the page, not the POST
    _shot(page, "reload-refused", size)

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    response = page.reload()
    page.wait_for_load_state("load")
    assert response.status == 200 and not dialogs
    assert sent == [("POST", "/provider/documents"), ("GET", "/provider")], sent
    expect(page.locator("[data-error-summary]")).to_have_count(0)
    expect(page.locator("main h1")).to_be_visible()
    _shot(page, "reload-after", size)

    # The POST-only address opened directly: our 405 page, in Chinese, with the way back.
    answer = page.goto(f"{live_server}/provider/documents")
    assert answer.status == 405
    text = page.locator("main").inner_text()
    assert "not allowed" not in text and _in_chinese(live_app, ERRORS_405) in text
    expect(page.locator("main a.button").last).to_have_attribute("href", "/")
    _shot(page, "405", size)


# --- 3. the error summary and the focus on the other forms ----------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_the_providers_forms_show_the_summary_and_focus_the_first_fault(page, live_server, live_app, size):
    n = arrange.fresh_number()
    _provider_id, staff = arrange.pending_provider(live_app, f"i14 表单机构 {n}")
    log_in(page, live_server, staff, arrange.PASSWORD)

    page.goto(f"{live_server}/provider/edit")
    for name in ("name", "legal_representative", "contact_name", "contact_phone"):
        page.fill(f"main form.stack input[name={name}]", "")
    page.locator("main form.stack button[type=submit]").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert _summary_targets(page)[:2] == ["name", "legal_representative"] and _focused(page) == "name"
    _shot(page, "provider-edit", size)

    # The carer form sits at the bottom of the roster: the page opens at its first field at fault.
    page.goto(f"{live_server}/provider/carers")
    page.locator("form[action$='/provider/carers'] button[type=submit]").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert _summary_targets(page) == ["name", "phone", "id_number"]
    page.wait_for_load_state("load")
    assert _focused(page) == "name" and _in_view(page, "#name")
    _shot(page, "carer", size, full_page=False)

    page.goto(f"{live_server}/account")
    page.locator("form[action$='/account/password'] button[type=submit]").click()
    expect(page.locator("#current_password-error")).to_be_visible()
    expect(page.locator("#new_password-error")).to_be_visible()
    assert _summary_targets(page) == ["current_password", "new_password"]
    assert _focused(page) == "current_password" and urlsplit(page.url).path == "/account"
    _shot(page, "password", size)


@pytest.mark.parametrize("size", SIZES)
def test_registration_and_vetting_show_the_summary(page, live_server, live_app, size):
    page.goto(f"{live_server}/providers/register")
    page.locator("main form.stack button[type=submit]").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert _summary_targets(page)[0] == "name" and _focused(page) == "name"
    _shot(page, "register", size)

    n = arrange.fresh_number()
    provider_id, _staff = arrange.pending_provider(live_app, f"i14 待审机构 {n}")
    log_in(page, live_server, arrange.OFFICIAL)
    page.goto(f"{live_server}/official/providers/{provider_id}")
    reject = page.locator("form:has(input[name=action][value=reject])")
    reject.locator("button[type=submit]").click()
    expect(page.locator("[data-error-summary]")).to_be_visible()
    assert _summary_targets(page) == ["reason-reject"]
    page.wait_for_load_state("load")
    assert _focused(page) == "reason-reject" and _in_view(page, "#reason-reject")
    _shot(page, "vetting-reject", size, full_page=False)


# --- 4. the log-in checkbox ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_the_login_checkbox_has_no_dangling_description(page, live_server, size):
    page.goto(f"{live_server}/login")
    box = page.locator("main input[type=checkbox]")
    expect(box).to_have_count(1)
    assert box.get_attribute("aria-describedby") is None
    _shot(page, "login", size)


# --- 5. the number and the payment: pages to reload ------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_the_number_and_the_payment_are_pages_that_reload(page, live_server, live_app, size):
    n = arrange.fresh_number()
    resident = arrange.resident(live_app, f"郝爷爷{n % 100}")
    booking_id = arrange.book_first_slot(live_app, resident, _listing(live_app))
    arrange.accept(live_app, booking_id)
    with live_app.app_context():
        number = db.session.get(Provider, arrange.provider_named(live_app, HOME_CARE)).contact_phone
    log_in(page, live_server, resident, arrange.PASSWORD)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{live_server}/bookings/{booking_id}")
    page.locator("#provider-contact-card button[type=submit]").click()
    expect(page.locator("#call-provider")).to_have_attribute("href", f"tel:{number}")
    assert urlsplit(page.url).path == f"/bookings/{booking_id}/provider-phone"
    sent = _documents_sent(page)
    assert page.reload().status == 200
    expect(page.locator("#call-provider")).to_have_attribute("href", f"tel:{number}")
    assert sent == [("GET", f"/bookings/{booking_id}/provider-phone")] and not dialogs
    _shot(page, "phone", size)

    page.goto(f"{live_server}/bookings/{booking_id}")
    page.locator("form[action$='/pay'] button[type=submit]").click()
    expect(page.locator("#offline-payment")).to_be_visible()
    assert urlsplit(page.url).path == f"/bookings/{booking_id}/pay"
    sent.clear()
    assert page.reload().status == 200
    expect(page.locator("#pay-whom")).to_have_text(HOME_CARE)
    assert sent == [("GET", f"/bookings/{booking_id}/pay")] and not dialogs
    _shot(page, "pay", size)

    # --- 6. the notifications, newest first, whatever order they were written in (a loaded history)
    from datetime import timedelta

    from app.clock import now
    from app.notifications import Notification

    with live_app.app_context():
        user_id = arrange.user(resident).id
        for days in (20, 3, 11):
            db.session.add(Notification(user_id=user_id, kind="booking.accepted", link=f"/bookings/{booking_id}",
                                        params={"booking": booking_id, "title": "旧的通知"},
                                        created_at=now() - timedelta(days=days)))
        db.session.commit()
    page.goto(f"{live_server}/notifications")
    times = page.eval_on_selector_all("main time[datetime]", "ts => ts.map(t => t.getAttribute('datetime'))")
    assert len(times) >= 4 and times == sorted(times, reverse=True), times
    _shot(page, "notifications", size)
