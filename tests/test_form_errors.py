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
