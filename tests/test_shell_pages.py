"""The shell's own pages: the log-in message in the visitor's language, every problem of a
sign-up or a password change at once, the API-token section of the account page, and the
mark a page answering a POST carries (so linli.js makes a reload a GET)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from flask_babel import force_locale, gettext

from app.auth import services
from app.extensions import db
from app.models import PhoneCode
from tests import factories
from tests.rendered_forms import submit

pytestmark = pytest.mark.usefixtures("english_messages")


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def count(model) -> int:
    return db.session.query(model).count()


# --- the log-in message -------------------------------------------------------------------------


def test_a_protected_page_asks_a_visitor_to_log_in_in_chinese_by_default(app):
    client = app.test_client()  # no language cookie: Chinese
    answer = client.get("/account")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    page = soup(client.get(answer.headers["Location"]))
    flash = page.select_one(".flash")
    with app.test_request_context(), force_locale("zh"):
        chinese = gettext("Please log in to access this page.")
    # (that the zh catalogue translates it is tests/test_i18n.py's check of every message)
    assert flash.get_text(strip=True) == chinese
    assert "flash-info" in flash["class"]


def test_the_log_in_message_follows_the_language_switch(en):
    answer = en.get("/bookings")
    page = soup(en.get(answer.headers["Location"]))
    assert page.select_one(".flash-info").get_text(strip=True) == "Please log in to access this page."


# --- every problem at once ----------------------------------------------------------------------

def test_a_sign_up_shows_every_problem_of_every_field_at_once(client):
    factories.community()
    page = client.get("/signup")
    answer = submit(client, page, "main form.stack", name="", phone="12345", password="short")
    assert answer.status_code == 422
    shown = soup(answer)
    summary = shown.select_one("[data-error-summary]")
    links = [a["href"] for a in summary.select("li a")]
    assert links == ["#name", "#phone", "#password", "#community"]
    text = summary.get_text(" ", strip=True)
    assert "There are 4 problems with what you sent" in text
    assert "Enter your name." in text and "11-digit mobile number" in text
    assert "at least 8 characters" in text and "Choose your community." in text
    for field in ("name", "phone", "password", "community"):
        assert shown.select_one(f"#{field}")["aria-invalid"] == "true"
    assert count(PhoneCode) == 0


def test_a_sign_up_with_the_fields_filled_but_wrong_shows_each_problem_on_its_field(client):
    community = factories.community()
    page = client.get("/signup")
    answer = submit(client, page, "main form.stack", name="钱阿姨", phone="1380000", password="password123",
                    community=str(community.id))
    assert answer.status_code == 422
    shown = soup(answer)
    assert [a["href"] for a in shown.select("[data-error-summary] li a")] == ["#phone", "#password"]
    assert "most common passwords" in shown.select_one("#password-error").get_text()
    assert count(PhoneCode) == 0


def test_the_sign_up_check_collects_every_problem(db_session):
    with pytest.raises(services.Problems) as refused:
        services.check_signup(db_session, phone="1", name=" ", password="", community_id=None)
    assert [e.field for e in refused.value.errors] == ["phone", "name", "password", "community"]


def test_a_password_change_says_both_what_is_wrong_with_the_current_and_the_new(client, auth):
    user = factories.resident()
    auth.login(user)
    answer = submit(client, client.get("/account"), "form[action='/account/password']",
                    current_password="not it", new_password="short")
    assert answer.status_code == 422  # the page itself, each reason beside its field
    page = soup(answer)
    assert page.select_one("#current_password-error").get_text(strip=True) == "The current password is not right."
    assert "at least 8 characters" in page.select_one("#new_password-error").get_text(strip=True)
    assert [a["href"] for a in page.select("[data-error-summary] a")] == ["#current_password", "#new_password"]


def test_the_log_in_page_lists_both_missing_fields(client):
    answer = submit(client, client.get("/login"), "main form.stack", phone="", password="")
    assert answer.status_code == 422
    assert [a["href"] for a in soup(answer).select("[data-error-summary] li a")] == ["#phone", "#password"]


def test_the_account_form_shows_its_problems_in_a_summary(client, auth):
    auth.login(factories.resident())
    answer = submit(client, client.get("/account"), "main form.stack", name="")
    assert answer.status_code == 422
    assert [a["href"] for a in soup(answer).select("[data-error-summary] li a")] == ["#name"]


# --- the API tokens on the account page ---------------------------------------------------------


def test_a_resident_without_tokens_finds_them_folded_away_in_plain_words(client, auth):
    auth.login(factories.resident())
    page = soup(client.get("/account"))
    folded = page.select_one("details#api-tokens")
    assert folded is not None and "open" not in folded.attrs
    assert folded.select_one("summary").get_text(strip=True) == "For programmers: personal API tokens"
    text = folded.get_text(" ", strip=True)
    assert "<token>" not in text and "Bearer <" not in page.decode()
    assert "in the Authorization header, after the word Bearer" in text
    assert folded.select_one("form[action='/account/tokens']") is not None


def test_a_resident_with_a_token_and_provider_staff_see_the_section(client, auth):
    resident = factories.resident()
    services.issue_token(db.session, resident, "手机", "read")
    db.session.commit()
    auth.login(resident)
    page = soup(client.get("/account"))
    assert page.select_one("h2#api-tokens") is not None and page.select_one("details#api-tokens") is None
    assert "手机" in page.select_one("tr.token").get_text()
    auth.logout()
    auth.login(factories.staff())
    page = soup(client.get("/account"))
    assert page.select_one("h2#api-tokens").get_text(strip=True) == "Personal API tokens"
    assert page.select_one("select#scope").find_previous("label").get_text(strip=True) == "What it may do"


# --- a page answering a POST --------------------------------------------------------------------


def test_a_refused_form_is_marked_as_the_answer_to_a_post_and_a_page_visited_is_not(client):
    visited = soup(client.get("/login"))
    assert not visited.body.has_attr("data-answers-post")
    refused = submit(client, client.get("/login"), "main form.stack", phone="13800000000", password="")
    assert refused.status_code == 422 and soup(refused).body.has_attr("data-answers-post")


def test_a_large_text_user_gets_the_class_on_the_root_too(client, auth):
    user = factories.resident()
    user.large_text = True
    db.session.commit()
    auth.login(user)
    page = soup(client.get("/account"))
    assert "large-text" in page.html["class"] and "large-text" in page.body["class"]
