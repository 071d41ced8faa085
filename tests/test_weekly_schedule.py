"""Issue 15, paper: a resident's printable weekly visit schedule — what it lists, and who may open it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import local
from app.extensions import db
from app.grids import services as grid_services
from app.grids import workers as grid_workers
from app.models import Role
from providers.bookings import services as bookings
from providers.bookings.schedule import week_of
from tests import factories
from tests.helpers import log_in
from tests.carer_helpers import carer_for
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def world(db_session, clock):
    official = factories.official()
    listing = factories.listing()
    home = listing.communities[0]
    staff = factories.staff(listing.provider)
    resident = factories.resident(home)
    accepted = factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=1))
    bookings.accept(db_session, accepted, staff, carer_id=carer_for(accepted))
    cancelled = factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=1, hour=11))
    bookings.cancel_by_resident(db_session, cancelled, resident)
    requested = factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=1, hour=13))
    grid = grid_services.create_grid(db.session, official, home, code="G1", name="第一网格")
    other = grid_services.create_grid(db.session, official, home, code="G2", name="第二网格")
    household = grid_services.create_household(db.session, official, grid, code="H1", address="般阳路1号")
    grid_services.add_member(db.session, official, household, resident.phone)
    worker = factories.user(Role.GRID_WORKER)
    grid_workers.assign(db.session, official, phone=worker.phone, grid_id=grid.id,
                        valid_from=(clock.now() - timedelta(days=1)).date(), valid_until=None)
    stranger = factories.user(Role.GRID_WORKER)
    grid_workers.assign(db.session, official, phone=stranger.phone, grid_id=other.id,
                        valid_from=(clock.now() - timedelta(days=1)).date(), valid_until=None)
    db_session.commit()
    return dict(official=official, resident=resident, worker=worker, stranger=stranger, accepted=accepted,
                cancelled=cancelled, requested=requested, staff=staff, neighbour=factories.resident(home))


def page(app, user, resident, week=None):
    client = app.test_client()
    client.set_cookie("linli_lang", "en")  # the English page these tests read
    assert log_in(client, user.phone, PASSWORD).status_code == 302
    url = f"/residents/{resident.id}/schedule" + (f"?week={week}" if week else "")
    return client.get(url)


def test_the_schedule_lists_the_weeks_accepted_visits_with_carer_and_masked_phone(app, world):
    accepted = world["accepted"]
    week = local(accepted.starts_at).date().isoformat()
    answer = page(app, world["resident"], world["resident"], week)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'id="visit-{accepted.id}"' in html
    assert local(accepted.starts_at).strftime("%H:%M") in html and accepted.listing.title in html
    assert accepted.carer.name in html and accepted.provider.name in html
    phone = accepted.provider.contact_phone
    assert phone not in html and (phone[:3] + "****" + phone[-4:]) in html
    assert f'id="visit-{world["cancelled"].id}"' not in html  # cancelled
    assert f'id="visit-{world["requested"].id}"' not in html  # not accepted yet
    assert "css/paper" in html  # the print stylesheet (A4, large type, no navigation on paper)


def test_another_week_is_empty(app, world):
    later = week_of(local(world["accepted"].starts_at).date()) + timedelta(days=14)
    html = page(app, world["resident"], world["resident"], later.isoformat()).get_data(as_text=True)
    assert "visit-" not in html and html.count("No visit") == 7


def test_who_may_open_it(app, world):
    resident = world["resident"]
    assert page(app, world["official"], resident).status_code == 200
    assert page(app, world["worker"], resident).status_code == 200
    assert page(app, world["stranger"], resident).status_code == 404  # a grid worker outside her grids
    assert page(app, world["neighbour"], resident).status_code == 404  # another resident
    assert page(app, world["staff"], resident).status_code == 404
    assert page(app, world["official"], world["official"]).status_code == 404  # not a resident
    assert page(app, resident, resident, "not-a-date").status_code == 404
    anonymous = app.test_client().get(f"/residents/{resident.id}/schedule")
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_the_links_to_it(app, world):
    resident = world["resident"]
    client = app.test_client()
    log_in(client, resident.phone, PASSWORD)
    assert f'href="/residents/{resident.id}/schedule"' in client.get("/bookings").get_data(as_text=True)
    worker = app.test_client()
    log_in(worker, world["worker"].phone, PASSWORD)
    html = worker.get(f"/grid-worker/residents/{resident.id}").get_data(as_text=True)
    assert f'href="/residents/{resident.id}/schedule"' in html
    assert f'href="/grid-worker/residents/{resident.id}/password-reset"' in html
