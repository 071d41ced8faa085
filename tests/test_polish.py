"""Issue 14 polish: what the pages offer matches what the services accept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.rating_helpers import completed_booking

pytestmark = pytest.mark.usefixtures("english_messages")


# --- 1. the booking page offers "Rate this service" exactly when the rate page accepts ----


@pytest.mark.parametrize(("after", "offered"), [
    (timedelta(days=14), True),                       # the last moment of the window
    (timedelta(days=14, seconds=1), False),           # just after it closed
])
def test_the_rate_button_follows_the_rating_window(client, auth, clock, after, offered):
    booking, _ = completed_booking(clock)
    auth.login(booking.resident)
    clock.set(booking.completed_at + after)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert (f'href="/bookings/{booking.id}/rate"' in page) is offered
    rate_page = client.get(f"/bookings/{booking.id}/rate").get_data(as_text=True)
    assert ("Publish my rating" in rate_page) is offered
    assert ("can no longer be rated" in rate_page) is not offered
