"""Item 11 of issue 12: a ``next`` holding a control character (or anything else a header or
a browser reads differently) is refused at every place that takes one; the request still
works and lands on the default page, never a 500 or a Location header that was split.

Places: the log-in page (``?next=`` kept by the form it renders), the language and
text-size switches (the ``next`` hidden field every page's header renders), and a
notification's stored link (``POST /notifications/<id>/open``).  Each unsafe character
is sent percent-encoded (decoded by the framework before ``safe_next`` sees it), raw
(the literal character in the query string or body), and encoded twice (the decoded
path holds it).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from bs4 import BeautifulSoup

from app.auth.views import safe_next
from app.extensions import db
from app.notifications import Notification
from tests import factories
from tests.conftest import PASSWORD

UNSAFE = {
    "CR": "\r", "LF": "\n", "CRLF": "\r\n", "NUL": "\x00", "tab": "\t", "DEL": "\x7f", "NEL": "\x85",
    "line separator": "\u2028", "paragraph separator": "\u2029", "bidi override": "\u202e",
    "zero-width space": "\u200b", "ideographic space": "\u3000",
}
# Each character after "/", then the header a split Location would have injected.
ATTACK = "/{ch}Set-Cookie:%20linli_session=stolen"
ENCODINGS = ("encoded", "raw", "encoded twice")
# An encoded space in a path is harmless (it stays encoded): spaces only as given.
CASES = [(name, how) for name in UNSAFE for how in ENCODINGS if not (name == "ideographic space" and how == ENCODINGS[2])]
IDS = [f"{name}-{how}" for name, how in CASES]


def target(name: str) -> str:
    return ATTACK.format(ch=UNSAFE[name])


def query(name: str, how: str) -> str:
    """``next=…`` as a query string (or form body) carrying the character."""
    value = target(name)
    if how == "raw":
        return "next=" + value
    once = quote(value, safe="")
    return "next=" + (quote(once, safe="") if how == "encoded twice" else once)


def form_fields(html: str, action: str) -> dict:
    """The fields of the page's form posting to ``action``, as the browser would send them."""
    form = BeautifulSoup(html, "html.parser").find("form", action=action) or \
        BeautifulSoup(html, "html.parser").find("form", action=None)
    assert form is not None, f"no form for {action}"
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")
              and i.get("type") not in ("checkbox", "submit")}
    button = form.find("button", attrs={"name": True})
    if button is not None:
        fields[button["name"]] = button.get("value", "")
    return fields


def assert_lands_home(response):
    assert response.status_code in (302, 303), response.status_code
    location = response.headers["Location"]
    assert urlsplit(location).path == "/" and "Set-Cookie" not in location
    assert [v for k, v in response.headers.items() if k == "Set-Cookie" and "stolen" in v] == []


@pytest.mark.parametrize("name, how", CASES, ids=IDS)
def test_safe_next_refuses_the_character(name, how):
    value = target(name)
    if how == "encoded twice":
        value = "/" + quote(value[1:], safe="")
    assert safe_next(value, "/default") == "/default"


@pytest.mark.parametrize("value", ["/bookings/3", "/catalogue?category=housekeeping&q=%E4%BF%9D%E6%B4%81",
                                   "/catalogue?q=保洁", "/上门服务", "/catalogue?q=a%0Ab", "/notifications#top"])
def test_a_path_on_this_site_is_still_followed(value):
    assert safe_next(value, "/default") == value


@pytest.mark.parametrize("value", ["//evil.example", "/\\evil.example", "/%2F/evil.example", "/%5Cevil.example",
                                   "https://evil.example/", "evil.example", "/%09/evil.example", " /x", ""])
def test_another_site_or_a_disguised_one_is_refused(value):
    assert safe_next(value, "/default") == "/default"


@pytest.mark.parametrize("name, how", CASES, ids=IDS)
def test_logging_in_with_such_a_next_logs_in_and_goes_home(client, name, how):
    resident = factories.resident()
    db.session.commit()
    page = client.get("/login", query_string=query(name, how))
    assert page.status_code == 200
    fields = form_fields(page.get_data(as_text=True), "")
    fields.update(phone=resident.phone, password=PASSWORD)
    response = client.post("/login", query_string=query(name, how), data=fields)
    assert_lands_home(response)
    assert client.get("/account").status_code == 200  # logged in: the log-in itself stood


@pytest.mark.parametrize("switch", ["/preferences/language", "/preferences/large-text"])
@pytest.mark.parametrize("name, how", CASES, ids=IDS)
def test_the_display_switches_with_such_a_next_switch_and_go_home(client, en, auth, switch, name, how):
    resident = factories.resident()
    db.session.commit()
    auth.login(resident)
    fields = form_fields(client.get("/catalogue").get_data(as_text=True), switch)
    body = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items() if k != "next")
    body = (body + "&" + query(name, how)).encode("utf-8")
    response = client.post(switch, data=body, content_type="application/x-www-form-urlencoded")
    assert_lands_home(response)
    db.session.refresh(resident)
    if switch.endswith("language"):
        assert resident.locale == fields["lang"]  # the switch itself was applied
    else:
        assert resident.large_text is (fields["on"] == "1")


@pytest.mark.parametrize("name", [n for n in UNSAFE if n != "NUL"])  # (PostgreSQL text cannot hold NUL)
def test_a_notification_whose_link_holds_such_a_character_opens_the_notification_centre(client, auth, name):
    resident = factories.resident()
    note = Notification(user_id=resident.id, kind="test.kind", params={}, link=target(name))
    db.session.add(note)
    db.session.commit()
    auth.login(resident)
    page = client.get("/notifications").get_data(as_text=True)
    fields = form_fields(page, f"/notifications/{note.id}/open")
    response = client.post(f"/notifications/{note.id}/open", data=fields)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/notifications"
    db.session.refresh(note)
    assert note.read_at is not None


def test_the_switch_from_a_page_with_an_encoded_newline_in_its_query_goes_back_to_it(client, auth):
    """Data in a query stays encoded in the Location header: the page it came from is kept."""
    resident = factories.resident()
    db.session.commit()
    auth.login(resident)
    fields = form_fields(client.get("/catalogue?q=a%0Ab").get_data(as_text=True), "/preferences/language")
    assert fields["next"] == "/catalogue?q=a%0Ab"
    response = client.post("/preferences/language", data=fields)
    assert response.headers["Location"] == "/catalogue?q=a%0Ab"
