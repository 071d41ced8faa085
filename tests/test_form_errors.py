"""Every form shows every error at once (issue 14): the refused page lists each problem in a
summary at the top, each field carries its own message and ``aria-invalid``, and the pages
that answer a POST tell linli.js which address a reload asks for."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from ratings.models import Complaint
from tests.forms import open_page
from tests.helpers import count
from tests.rating_helpers import PNG, accepted_booking

pytestmark = pytest.mark.usefixtures("english_messages")


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def summary(response) -> list[str]:
    """The links of the error summary, as (target id, text)."""
    box = soup(response).select_one("[data-error-summary]")
    assert box is not None, "no error summary on the page"
    return [(a["href"].lstrip("#"), a.get_text(" ", strip=True)) for a in box.select("a")]


def invalid_ids(response) -> list[str]:
    return [tag.get("id") for tag in soup(response).select('main [aria-invalid="true"]')]


# --- 1. the complaint form ------------------------------------------------------------


def test_an_empty_complaint_shows_both_missing_fields_at_once(client, auth, clock):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}/complain")
    response = page.form(action=f"/bookings/{booking.id}/complain").submit(fields={"kind": "", "description": ""})
    assert response.status_code == 422
    assert [target for target, _ in summary(response)] == ["kind", "description"]
    text = response.get_data(as_text=True)
    assert "Choose what the complaint is about." in text and "Describe what happened." in text
    assert invalid_ids(response) == ["kind", "description"]
    assert count(Complaint) == 0


def test_a_bad_photo_is_reported_with_the_other_faults(app, client, auth, clock):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}/complain")
    response = page.form(action=f"/bookings/{booking.id}/complain").submit(fields={
        "kind": "", "description": "x" * 6000, "photos": [(b"just some text\n" * 10, "photo.jpg")]})
    assert response.status_code == 422
    found = summary(response)
    assert [target for target, _ in found] == ["kind", "description", "photos"]
    assert "too long (2000 characters at most)" in found[1][1]
    assert "Photos must be JPEG or PNG images." in found[2][1]
    # the file input is marked too, so linli.js focuses it when it is the first fault
    assert invalid_ids(response) == ["kind", "description", "photos"]
    assert count(Complaint) == 0


def test_when_only_the_photo_is_wrong_it_is_the_first_field_at_fault(app, client, auth, clock):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}/complain")
    response = page.form(action=f"/bookings/{booking.id}/complain").submit(fields={
        "kind": "late", "description": "迟到", "photos": [(PNG, "a.png"), (b"%PDF-1.4 x", "b.jpg")]})
    assert response.status_code == 422
    assert [target for target, _ in summary(response)] == ["photos"]
    assert invalid_ids(response) == ["photos"]
    # what was typed is kept
    html = soup(response)
    assert html.select_one("#kind option[selected]")["value"] == "late"
    assert html.select_one("#description").get_text() == "迟到"


# --- 6. notifications, newest first ----------------------------------------------------


def test_notifications_are_listed_newest_first_whatever_order_they_were_written(client, auth, clock):
    from datetime import datetime, timezone

    from app.extensions import db
    from app.notifications import Notification
    from tests import factories

    resident = factories.resident()
    written = [  # written in this order: the newest one first, an older one after it
        datetime(2026, 12, 4, 18, 41, tzinfo=timezone.utc),
        datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc),
        datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc),
        datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc),
    ]
    rows = [Notification(user_id=resident.id, kind="complaint.responded", params={"booking": n}, created_at=at)
            for n, at in enumerate(written)]
    db.session.add_all(rows)
    db.session.flush()
    auth.login(resident)
    page = soup(client.get("/notifications"))
    shown = [int(p["id"].split("-")[1]) for p in page.select('p[id^="notification-"][id$="-text"]')]
    assert shown == [rows[0].id, rows[3].id, rows[2].id, rows[1].id]


# --- 4. a checkbox has no aria-describedby="None" ----------------------------------------


def test_the_login_checkbox_points_to_no_error_it_does_not_have(client):
    page = soup(client.get("/login"))
    boxes = page.select('main input[type="checkbox"]')
    assert boxes, "the log-in page has its keep-me-logged-in checkbox"
    for box in boxes:
        assert not box.has_attr("aria-describedby") and not box.has_attr("aria-invalid")
    assert "None" not in str(page.select_one("main form"))


def test_a_checkbox_with_an_error_points_to_it(app):
    from flask import render_template_string
    from flask_wtf import FlaskForm
    from wtforms import BooleanField

    class Agree(FlaskForm):
        agree = BooleanField("I agree")

    with app.test_request_context("/"):
        form = Agree(meta={"csrf": False})
        form.agree.errors = ["Tick the box."]
        html = BeautifulSoup(render_template_string(
            '{% from "_forms.html" import field %}{{ field(form.agree) }}', form=form), "html.parser")
    box = html.select_one("input#agree")
    assert box["aria-describedby"] == "agree-error" and box["aria-invalid"] == "true"
    assert html.select_one("#agree-error").get_text() == "Tick the box."


# --- 2. the address a reload asks for; the 405 page ----------------------------------------


def answers_post(response):
    body = soup(response).body
    return body.get("data-answers-post") if body.has_attr("data-answers-post") else None


def test_a_refused_form_at_an_address_that_answers_a_get_reloads_to_itself(client, auth, clock):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    page = open_page(client, f"/bookings/{booking.id}/complain")
    response = page.form(action=f"/bookings/{booking.id}/complain").submit(fields={"kind": ""})
    assert response.status_code == 422 and answers_post(response) == f"/bookings/{booking.id}/complain"
    assert answers_post(client.get(f"/bookings/{booking.id}/complain")) is None  # a visit: nothing to replace


def test_a_refused_form_at_a_post_only_address_reloads_to_the_page_that_showed_it(client, auth, app):
    from tests import factories

    staff = factories.staff()
    auth.login(staff)
    page = open_page(client, "/provider")
    form = page.form(action="/provider/documents")
    response = form.submit(fields={}, headers={"Referer": "http://localhost/provider?tab=documents"})
    assert response.status_code == 422 and answers_post(response) == "/provider?tab=documents"
    # the language switch on that page comes back to the page, not to the POST-only address
    nexts = {tag["value"] for tag in soup(response).select('input[name="next"]')}
    assert nexts == {"/provider?tab=documents"}

    # another site, a page that takes no GET, or no Referer at all: nothing to reload to
    for referrer in ("https://evil.example/provider", "http://localhost/provider/documents", None):
        headers = {"Referer": referrer} if referrer else {}
        refused = form.submit(fields={}, headers=headers)
        assert refused.status_code == 422 and answers_post(refused) is None, referrer


def test_opening_a_post_only_address_answers_a_405_page_of_ours_that_links_back(client, auth):
    from tests import factories

    auth.login(factories.staff())
    response = client.get("/provider/documents", headers={"Referer": "http://localhost/provider"})
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    text = response.get_data(as_text=True)
    assert "The method is not allowed" not in text and "This address only receives a form" in text
    back = soup(response).select("main a.button")
    assert [a["href"] for a in back] == ["/provider", "/"]
    # without a page to go back to, only the home page
    alone = soup(client.get("/provider/documents")).select("main a.button")
    assert [a["href"] for a in alone] == ["/"]

    client.set_cookie("linli_lang", "zh")
    page = soup(client.get("/provider/documents"))
    assert page.html["lang"].startswith("zh") and page.select_one("main a.button").get_text() == "返回首页"


@pytest.mark.parametrize(("code", "english"), [
    (400, "The browser (or proxy) sent a request"), (404, "The requested URL was not found"),
    (413, "The data value transmitted exceeds"), (429, "This user has exceeded"),
    (403, "You don't have the permission"),
])
def test_error_pages_never_show_werkzeugs_english_descriptions(app, code, english):
    from werkzeug.exceptions import default_exceptions

    with app.test_request_context("/somewhere"):
        response = app.make_response(app.handle_http_exception(default_exceptions[code]()))
    assert response.status_code == code
    text = response.get_data(as_text=True)
    assert english not in text and "<h1>" in text


def test_a_message_our_code_gives_is_kept(app):
    from flask import abort

    with app.test_request_context("/somewhere"):
        try:
            abort(403, description="Only the owner may do this.")
        except Exception as error:  # noqa: BLE001 - the HTTPException abort raises
            response = app.make_response(app.handle_http_exception(error))
    assert response.status_code == 403 and "Only the owner may do this." in response.get_data(as_text=True)


def test_a_form_with_an_expired_csrf_token_says_what_to_do(client, auth, csrf_enabled):
    # A body without the token the page would have given (an expired one): raw on purpose.
    response = client.post("/login", data={"phone": "13800000000", "password": "x"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "This form was open too long" in text and "The CSRF token is missing." not in text


# --- 5. the number and the payment: Post/Redirect/Get ---------------------------------------


def phone_events(booking) -> int:
    import sqlalchemy as sa

    from app.audit import AuditEvent
    from app.extensions import db

    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "booking.provider_phone_shown", AuditEvent.object_id == booking.id))


def test_showing_the_number_redirects_to_a_page_that_can_be_reloaded(client, auth, clock):
    from tests import factories

    booking, _ = accepted_booking()
    phone = booking.provider.contact_phone
    auth.login(booking.resident)
    url = f"/bookings/{booking.id}/provider-phone"
    before = soup(client.get(url))  # opened (bookmarked) before asking: the button, not the number
    assert phone not in str(before) and before.select_one("#masked-phone") is not None
    assert phone_events(booking) == 0

    page = open_page(client, f"/bookings/{booking.id}")
    asked = page.form(action=url).submit(button="Show the number and call")
    assert asked.status_code == 303 and asked.location.endswith(url)
    assert phone_events(booking) == 1
    shown = client.get(asked.location)
    assert shown.status_code == 200 and soup(shown).select_one("#call-provider")["href"] == f"tel:{phone}"
    assert answers_post(shown) is None

    clock.advance(minutes=20)  # a reload a little later: still shown, nothing more recorded
    assert soup(client.get(url)).select_one("#call-provider") is not None and phone_events(booking) == 1
    clock.advance(minutes=15)  # later: asked for again
    again = soup(client.get(url))
    assert again.select_one("#call-provider") is None and phone not in str(again)
    assert again.select_one(f'form[action="{url}"] button') is not None

    auth.logout()
    auth.login(factories.resident())
    assert client.get(url).status_code == 404


def test_the_number_page_of_a_booking_out_of_service_is_a_409(client, auth, clock):
    from tests.rating_helpers import completed_booking

    booking, _ = completed_booking(clock)
    auth.login(booking.resident)
    response = client.get(f"/bookings/{booking.id}/provider-phone")
    assert response.status_code == 409 and "only while the booking is accepted or in service" in \
        response.get_data(as_text=True)
    assert booking.provider.contact_phone not in response.get_data(as_text=True)


def test_paying_offline_redirects_to_the_instructions_which_can_be_reloaded(client, auth, clock):
    from billing import payments
    from app.extensions import db
    from tests import factories

    booking, staff = accepted_booking()
    auth.login(booking.resident)
    url = f"/bookings/{booking.id}/pay"
    page = open_page(client, f"/bookings/{booking.id}")
    paid = page.form(action=url).submit(button="Pay now")
    assert paid.status_code == 303 and paid.location.endswith(url)
    for _ in range(2):  # the page, then a reload: the same instructions, one payment
        shown = client.get(url)
        assert shown.status_code == 200 and soup(shown).select_one("#offline-payment") is not None
        assert booking.provider.name in soup(shown).select_one("#pay-whom").get_text()
    assert len([p for p in [payments.live_payment(db.session, booking.id)] if p]) == 1

    payments.confirm_offline_receipt(db.session, booking)
    db.session.commit()
    done = soup(client.get(url))
    assert done.select_one("#payment-made") is not None and done.select_one("#offline-payment") is None

    auth.logout()
    auth.login(factories.resident())
    assert client.get(url).status_code == 404


def test_the_payment_page_of_a_booking_with_nothing_to_pay_is_a_409(client, auth):
    from tests import factories

    booking = factories.booking()  # requested; paid at acceptance: nothing due yet
    auth.login(booking.resident)
    response = client.get(f"/bookings/{booking.id}/pay")
    assert response.status_code == 409 and "There is nothing to pay for this booking." in \
        response.get_data(as_text=True)


# --- 3. every form page that can come back with field errors has the summary --------------


def test_the_provider_details_emptied_show_every_missing_field_in_the_summary(client, auth):
    from tests import factories

    auth.login(factories.staff())
    page = open_page(client, "/provider/edit")
    response = page.form(action="/provider/edit").submit(fields={
        "name": "", "legal_representative": "", "contact_name": "", "contact_phone": ""})
    assert response.status_code == 422
    targets = [target for target, _ in summary(response)]
    assert targets[:2] == ["name", "legal_representative"] and {"contact_name", "contact_phone"} <= set(targets)
    assert invalid_ids(response)[0] == "name"


def test_adding_a_carer_with_nothing_filled_in_lists_every_field(client, auth):
    from tests import factories

    auth.login(factories.staff())
    page = open_page(client, "/provider/carers")
    response = page.form(action="/provider/carers").submit(fields={"name": "", "phone": "", "id_number": ""})
    assert response.status_code == 422
    assert [target for target, _ in summary(response)] == ["name", "phone", "id_number"]
    assert invalid_ids(response) == ["name", "phone", "id_number"]


def test_the_carer_service_reports_every_mistake_at_once(db_session):
    from app.errors import Problems
    from providers.carers import services
    from providers.registration import provider_of
    from tests import factories

    staff = factories.staff()
    provider_id = provider_of(db_session, staff).id
    with pytest.raises(Problems) as refused:
        services.add_carer(db_session, provider_id, staff, name="", phone="12", id_number="x")
    assert [e.field for e in refused.value.errors] == ["name", "phone", "id_number"]


def test_registering_an_organisation_with_nothing_filled_in_lists_every_field(client):
    page = open_page(client, "/providers/register")
    response = page.form(action="/providers/register").submit(fields={})
    assert response.status_code == 422
    targets = [target for target, _ in summary(response)]
    assert targets[0] == "name" and {"credit_code", "staff_name", "password"} <= set(targets)


def test_the_registration_service_reports_every_detail_at_once(db_session):
    from app.errors import Problems
    from providers import registration

    details = registration.ProviderDetails(name="", credit_code="bad", legal_representative="", contact_name="",
                                           contact_phone="1", category_ids=[], community_ids=[])
    with pytest.raises(Problems) as refused:
        registration.register_provider(db_session, details, staff_name="王", staff_phone="13900000009",
                                       password="a long password 1")
    assert [e.field for e in refused.value.errors] == [
        "credit_code", "name", "legal_representative", "category_ids", "contact_name", "contact_phone",
        "community_ids"]


def test_rejecting_a_provider_without_a_reason_links_the_summary_to_that_box(client, auth):
    from providers.models import ProviderStatus
    from tests import factories

    provider = factories.provider(status=ProviderStatus.PENDING)
    auth.login(factories.official())
    page = open_page(client, f"/official/providers/{provider.id}")
    response = page.form(action=f"/official/providers/{provider.id}/decision",
                         having={"action": "reject"}).submit(fields={"reason": ""})
    assert response.status_code == 422
    assert [target for target, _ in summary(response)] == ["reason-reject"]
    assert invalid_ids(response) == ["reason-reject"]
    assert soup(response).select_one("#reason-reject").name == "textarea"


def test_a_refused_password_change_shows_the_account_page_with_each_reason(client, auth):
    from tests import factories

    auth.login(factories.resident())
    page = open_page(client, "/account")
    response = page.form(action="/account/password").submit(fields={"current_password": "", "new_password": ""})
    assert response.status_code == 422
    assert [target for target, _ in summary(response)] == ["current_password", "new_password"]
    assert invalid_ids(response) == ["current_password", "new_password"]
    assert answers_post(response) is None or answers_post(response) == "/account"


def test_a_token_without_a_name_is_shown_beside_its_field(client, auth):
    from tests import factories

    auth.login(factories.staff())
    page = open_page(client, "/account")
    response = page.form(action="/account/tokens").submit(fields={"name": ""})
    assert response.status_code == 422
    assert [target for target, _ in summary(response)] == ["token-name"]
    assert soup(response).select_one("#token-name")["aria-invalid"] == "true"


def test_every_form_page_that_renders_fields_has_the_error_summary():
    """The templates with a POST form that renders form fields (``field(``, ``textarea(``,
    ``.errors``) call ``error_summary`` — the booking pages (another stream's) excepted."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    partials = {"_forms.html", "_complaint_forms.html", "_home_form.html", "_evaluators.html"}  # macros, included
    not_yet = {"_booking.html", "provider_booking.html", "official_booking.html"}  # the booking pages
    missing = []
    for path in root.glob("*/**/templates/**/*.html"):
        if ".venv" in path.parts or path.name in partials or path.name in not_yet:
            continue
        text = path.read_text(encoding="utf-8")
        if 'method="post"' in text and re.search(r"\bfield\(|\btextarea\(|\.errors\b", text) \
                and "error_summary" not in text:
            missing.append(str(path.relative_to(root)))
    assert not missing, missing


def test_a_refused_check_out_on_todays_visits_opens_with_the_summary(client, auth, clock):
    from datetime import timedelta

    from tests import visit_helpers as v

    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    clock.set(booking.starts_at + timedelta(minutes=30))  # leaving early needs a reason
    auth.login(staff)
    page = open_page(client, "/provider/today")
    lat, lon = v.HOME
    prefix = f"visit{booking.id}-"
    response = page.submit(button="Check out: the visit is done",
                           fields={prefix + "lat": str(lat), prefix + "lon": str(lon)})
    assert response.status_code == 422
    targets = [target for target, _ in summary(response)]
    assert prefix + "short_reason" in targets
