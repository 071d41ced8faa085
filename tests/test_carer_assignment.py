"""Which carer serves a booking: chosen on the accept form, changeable until check-in,
refused when unqualified on the visit's day or already busy at that time (the service
under the write lock on SQLite; the exclusion constraint on PostgreSQL, raced from two
sessions).  The test clock starts on Monday 2 November 2026, 10:00 in Shanghai; factory
listings take bookings Monday to Friday 9:00–17:00 in slots of two hours, two places each.
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.errors import Conflict, Invalid
from app.extensions import db
from providers.bookings import services
from providers.bookings.models import Booking, BookingEvent, BookingStatus as S
from providers.carers.kinds import QualificationKind as K
from tests import factories
from tests.carer_helpers import carer
from tests.conftest import on_postgres
from providers.carers import services as carer_services
from tests.forms import open_page, submit

# The messages are matched in English (the catalogue is Chinese by default).
pytestmark = pytest.mark.usefixtures("english_messages")


def html(response) -> str:
    return response.get_data(as_text=True)


def _unchanged(booking_id: int) -> tuple:
    db.session.expire_all()
    booking = db.session.get(Booking, booking_id)
    events = db.session.scalar(sa.select(sa.func.count()).select_from(BookingEvent)
                               .where(BookingEvent.booking_id == booking_id))
    return booking.status, booking.carer_id, events


def _shop(category_code: str = "housekeeping"):
    listing = factories.listing(category_code=category_code)
    staff = factories.staff(listing.provider)
    return listing, staff


# --- accepting with a carer -----------------------------------------------------------------


def test_the_accept_form_assigns_the_chosen_carer(client, auth, db_session, clock):
    listing, staff = _shop()
    chosen = carer(listing.provider_id, name="李建国")
    booking = factories.booking(listing)
    auth.login(staff)
    page = open_page(client, f"/provider/bookings/{booking.id}")
    offered = page.form(action=f"/provider/bookings/{booking.id}/accept")._choices("carer_id")
    assert offered == [str(c.id) for c in carer_services.active_carers(db_session, listing.provider_id)]
    assert str(chosen.id) in offered
    response = page.submit(action=f"/provider/bookings/{booking.id}/accept", fields={"carer_id": str(chosen.id)})
    assert response.status_code == 302
    db_session.expire_all()
    accepted = db_session.get(Booking, booking.id)
    assert accepted.status == S.ACCEPTED and accepted.carer_id == chosen.id
    assert "李建国" in html(client.get(f"/provider/bookings/{booking.id}"))

    # The resident sees the carer's family name and a title only: no full name, no phone.
    auth.logout()
    auth.login(accepted.resident)
    resident_page = html(client.get(f"/bookings/{booking.id}"))
    assert "李" in resident_page and "李建国" not in resident_page and chosen.phone not in resident_page


def test_accepting_without_a_carer_or_with_someone_elses_is_refused(app, db_session, clock):
    listing, staff = _shop()
    booking = factories.booking(listing)
    stranger = carer(factories.provider().id)
    for carer_id in (None, stranger.id, 999_999):
        before = _unchanged(booking.id)
        with pytest.raises(Invalid) as refused:
            services.accept(db_session, booking, staff, carer_id=carer_id)
        assert refused.value.field == "carer_id" and "Choose the carer" in str(refused.value)
        assert _unchanged(booking.id) == before


def test_an_inactive_carer_cannot_be_assigned(app, db_session, clock):
    listing, staff = _shop()
    booking = factories.booking(listing)
    resting = carer(listing.provider_id, name="周停", active=False)
    with pytest.raises(Invalid, match="no longer active"):
        services.accept(db_session, booking, staff, carer_id=resting.id)
    assert _unchanged(booking.id)[0] == S.REQUESTED


def test_the_required_qualification_must_be_valid_on_the_visits_day(app, db_session, clock):
    # Home care requires the elder-care certificate (migration 0017); the visit is on Tuesday 3 November.
    listing, staff = _shop("home_care")
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1))
    expired = carer(listing.provider_id, name="钱过期", qualified_until=date(2026, 11, 2), kinds=(K.ELDER_CARE,))
    wrong_kind = carer(listing.provider_id, name="孙电工", kinds=(K.ELECTRICIAN,))
    for unqualified in (expired, wrong_kind):
        with pytest.raises(Invalid) as refused:
            services.accept(db_session, booking, staff, carer_id=unqualified.id)
        assert refused.value.field == "carer_id" and "2026-11-03" in str(refused.value)
        assert _unchanged(booking.id)[0] == S.REQUESTED
    # Valid up to and including the day of the visit (Asia/Shanghai).
    last_day = carer(listing.provider_id, name="赵当天", qualified_until=date(2026, 11, 3), kinds=(K.ELDER_CARE,))
    services.accept(db_session, booking, staff, carer_id=last_day.id)
    assert booking.carer_id == last_day.id


def test_a_category_without_a_requirement_takes_any_active_carer(app, db_session, clock):
    listing, staff = _shop("housekeeping")
    booking = factories.booking(listing)
    untrained = carer(listing.provider_id, qualified_until=None)
    services.accept(db_session, booking, staff, carer_id=untrained.id)
    assert booking.status == S.ACCEPTED


# --- one carer, one visit at a time ------------------------------------------------------


def test_one_carer_is_refused_for_an_overlapping_visit_until_the_first_is_cancelled(app, db_session, clock):
    listing, staff = _shop()
    nine = factories.next_slot(listing, days_ahead=1, hour=9)
    first = factories.booking(listing, starts_at=nine)
    second = factories.booking(listing, starts_at=nine)  # the slot's second place
    at_eleven = factories.booking(listing, starts_at=nine + timedelta(hours=2))  # back to back: no overlap
    worker = carer(listing.provider_id, name="王秀兰")
    services.accept(db_session, first, staff, carer_id=worker.id)
    db_session.commit()
    before = _unchanged(second.id)
    with pytest.raises(Conflict) as refused:
        services.accept(db_session, second, staff, carer_id=worker.id)
    assert refused.value.field == "carer_id" and "already serving another visit" in str(refused.value)
    db_session.rollback()
    assert _unchanged(second.id) == before
    services.accept(db_session, at_eleven, staff, carer_id=worker.id)
    db_session.commit()
    # A cancelled visit frees the carer.
    services.cancel_by_provider(db_session, db_session.get(Booking, first.id), staff, "人手不足")
    services.accept(db_session, db_session.get(Booking, second.id), staff, carer_id=worker.id)
    db_session.commit()
    assert db_session.get(Booking, second.id).carer_id == worker.id


def test_the_refusal_shows_next_to_the_carer_choice(client, auth, db_session, clock):
    listing, staff = _shop()
    nine = factories.next_slot(listing, days_ahead=1, hour=9)
    first, second = factories.booking(listing, starts_at=nine), factories.booking(listing, starts_at=nine)
    worker = carer(listing.provider_id, name="王秀兰")
    services.accept(db_session, first, staff, carer_id=worker.id)
    db_session.commit()
    auth.login(staff)
    before = _unchanged(second.id)
    response = submit(client, f"/provider/bookings/{second.id}", action=f"/provider/bookings/{second.id}/accept",
                      fields={"carer_id": str(worker.id)})
    assert response.status_code == 409
    assert 'id="carer-accept-error"' in html(response) and "already serving another visit" in html(response)
    assert _unchanged(second.id) == before


# --- changing the carer ---------------------------------------------------------------


def test_the_carer_can_be_changed_until_check_in(client, auth, db_session, clock):
    listing, staff = _shop()
    booking = factories.booking(listing)
    first, other = carer(listing.provider_id, name="王秀兰"), carer(listing.provider_id, name="李建国")
    services.accept(db_session, booking, staff, carer_id=first.id)
    db_session.commit()
    auth.login(staff)
    url = f"/provider/bookings/{booking.id}"
    response = submit(client, url, action=f"{url}/carer", fields={"carer_id": str(other.id)})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).carer_id == other.id

    clock.set(booking.starts_at)
    services.check_in(db_session, db_session.get(Booking, booking.id), staff)
    db_session.commit()
    page = open_page(client, url)
    assert not any(f.action.endswith("/carer") for f in page.forms())
    from flask_babel import force_locale

    from providers.carers import assignment

    with force_locale("en"), pytest.raises(Conflict, match="before check-in"):  # (after the pages' requests)
        assignment.change_carer(db_session, db_session.get(Booking, booking.id), staff, first.id)
    db_session.rollback()
    assert db_session.get(Booking, booking.id).carer_id == other.id


# --- PostgreSQL: the exclusion constraint decides a race ---------------------------------------


@pytest.mark.postgres_only
def test_the_database_refuses_an_overlap_the_service_did_not_see(app, db_session, clock):
    if not on_postgres():
        pytest.skip("the exclusion constraint is PostgreSQL's")
    listing, staff = _shop()
    nine = factories.next_slot(listing, days_ahead=1, hour=9)
    first, second = factories.booking(listing, starts_at=nine), factories.booking(listing, starts_at=nine)
    worker = carer(listing.provider_id)
    services.accept(db_session, first, staff, carer_id=worker.id)
    services.accept(db_session, second, staff, carer_id=carer(listing.provider_id).id)
    db_session.flush()
    with pytest.raises(sa.exc.IntegrityError, match="ex_booking_carer_overlap"):
        with db_session.begin_nested():
            db_session.execute(sa.update(Booking).where(Booking.id == second.id).values(carer_id=worker.id))


@pytest.fixture
def race_app(tmp_path_factory):
    from tests.helpers import race_app as make_race_app

    with make_race_app(tmp_path_factory, "carerrace", 4) as app:
        yield app


@pytest.mark.postgres_only
@pytest.mark.no_db_session
def test_two_sessions_racing_to_assign_one_carer_give_one_visit(race_app):
    """A has assigned the carer and not committed; B checks (and sees nothing: A's row is not
    committed), writes, and waits on A's row; A commits; B is refused by the constraint with
    the service's own message, and nothing of B's acceptance stays."""
    if not on_postgres():
        pytest.skip("the race is decided by PostgreSQL's exclusion constraint")
    from app.models import User

    with race_app.app_context():
        listing, staff = _shop()
        nine = factories.next_slot(listing, days_ahead=1, hour=9)
        first, second = factories.booking(listing, starts_at=nine).id, factories.booking(listing, starts_at=nine).id
        worker = carer(listing.provider_id)
        db.session.commit()
        staff_id, carer_id = staff.id, worker.id

    a_has_written = threading.Event()
    outcomes: dict[str, str] = {}

    def waiting_on_a_lock() -> bool:
        with db.engine.connect() as watcher:
            return bool(watcher.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")))

    def racer(name: str, booking_id: int):
        with race_app.app_context(), force_locale("en"):
            try:
                if name == "B":
                    a_has_written.wait(timeout=30)
                booking = db.session.get(Booking, booking_id)
                services.accept(db.session, booking, db.session.get(User, staff_id), carer_id=carer_id)
                if name == "A":
                    a_has_written.set()
                    for _ in range(600):  # until B's write waits on A's row (at most 30 s)
                        if waiting_on_a_lock():
                            break
                        time.sleep(0.05)
                db.session.commit()
                outcomes[name] = "ok"
            except Conflict as refused:
                db.session.rollback()
                outcomes[name] = str(refused)

    threads = [threading.Thread(target=racer, args=args) for args in (("A", first), ("B", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes["A"] == "ok", outcomes
    assert "already serving another visit at this time" in outcomes["B"], outcomes
    with race_app.app_context():
        rows = dict(db.session.execute(sa.select(Booking.id, Booking.status).where(Booking.id.in_((first, second)))).all())
        assert rows == {first: S.ACCEPTED, second: S.REQUESTED}
        assert db.session.scalar(sa.select(Booking.carer_id).where(Booking.id == second)) is None


def test_the_agenda_names_each_visits_carer(client, auth, db_session, clock):
    listing, staff = _shop()
    booking = factories.booking(listing)
    services.accept(db_session, booking, staff, carer_id=carer(listing.provider_id, name="李建国").id)
    db_session.commit()
    auth.login(staff)
    for view in ("list", "day&date=2026-11-03"):
        page = html(client.get(f"/provider/bookings?view={view}"))
        row = page.split(f'id="booking-{booking.id}"')[1].split("</tr>")[0]
        assert "李建国" in row, view


def test_the_api_names_the_carer_to_staff_and_only_the_family_name_to_the_resident(client, db_session, clock):
    from tests.helpers import bearer

    listing, staff = _shop()
    booking = factories.booking(listing)
    chosen = carer(listing.provider_id, name="李建国")
    db_session.commit()
    accepted = client.post(f"/api/v1/bookings/{booking.id}/actions/accept", json={"carer_id": chosen.id},
                           headers=bearer(staff))
    assert accepted.status_code == 200 and accepted.get_json()["carer"] == {"id": chosen.id, "name": "李建国"}
    seen = client.get(f"/api/v1/bookings/{booking.id}", headers=bearer(booking.resident)).get_json()
    assert seen["carer"]["id"] is None and seen["carer"]["name"] != "李建国" and "李" in seen["carer"]["name"]
