"""The roster: ID numbers checked (format, birth date, check digit), stored only encrypted
with a keyed digest, shown masked everywhere; qualifications and their expiry; the pages
(every mistake at once next to its field, nothing written on a refusal) and the
dashboard's warning.  The test clock starts on Monday 2 November 2026, 10:00 in Shanghai.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.errors import Conflict, Invalid
from app.extensions import db
from providers.carers import expiry, identity, services
from providers.carers.models import Carer, CarerQualification
from tests import factories
from tests.carer_helpers import carer, id_number
from tests.forms import open_page, submit

# The messages are matched in English (the catalogue is Chinese by default).
pytestmark = pytest.mark.usefixtures("english_messages")

VALID = "11010519491231002X"  # the GB 11643 example: check character X
OTHER_VALID = "440524198001010013"


def html(response) -> str:
    return response.get_data(as_text=True)


# --- the ID number -------------------------------------------------------------------


def test_a_valid_number_is_accepted_and_a_lower_case_x_made_upper_case():
    assert identity.clean(VALID) == VALID
    assert identity.clean(" 11010519491231002x ") == VALID
    assert identity.clean(OTHER_VALID) == OTHER_VALID
    for n in range(50):
        number = id_number(n)
        assert identity.clean(number) == number


@pytest.mark.parametrize("number, message", [
    ("", "18 characters"),
    ("1101051949123100", "18 characters"),  # too short
    ("11010519491231002XX", "18 characters"),  # too long
    ("1101051949123A002X", "18 characters"),  # a letter among the digits
    ("110105194902300027", "date of birth"),  # 30 February
    ("110105185001010010", "date of birth"),  # born before 1900
    ("110105194912310021", "last character"),  # wrong check digit (should be X)
], ids=["empty", "short", "long", "letter", "30-february", "before-1900", "check-digit"])
def test_a_wrong_number_is_refused_with_what_is_wrong(app, number, message):
    with pytest.raises(Invalid) as refused:
        identity.clean(number)
    assert refused.value.field == "id_number" and message in str(refused.value)


def test_the_number_is_shown_masked():
    assert identity.mask(VALID) == "1101**********002X"
    assert identity.mask("370102199003071234") == "3701**********1234"


def test_the_number_is_stored_only_encrypted(app, db_session):
    provider = factories.provider()
    staff = factories.staff(provider)
    added = services.add_carer(db_session, provider.id, staff, name="赵秀英", phone="13912345678", id_number=VALID)
    db_session.flush()
    row = db_session.execute(sa.text("SELECT * FROM carer WHERE id = :id"), {"id": added.id}).mappings().one()
    assert all(VALID not in str(value) and VALID[:17] not in str(value) for value in row.values())
    assert row["id_number_masked"] == "1101**********002X"
    assert identity.decrypt(row["id_number_secret"]) == VALID
    assert row["id_number_digest"] == identity.digest(VALID) != identity.digest(OTHER_VALID)
    # Encrypted twice, the same number gives different ciphertexts (a fresh IV each time).
    assert identity.encrypt(VALID) != identity.encrypt(VALID)
    # The audit event names the carer with the masked number only.
    event = db_session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "carer.added"))
    assert event.object_id == added.id and VALID not in str(event.after) and "1101**********002X" in str(event.after)


def test_the_same_person_is_on_one_roster_once(app, db_session):
    provider, other = factories.provider(), factories.provider()
    staff = factories.staff(provider)
    services.add_carer(db_session, provider.id, staff, name="赵秀英", phone="13912345678", id_number=VALID)
    before = db_session.scalar(sa.select(sa.func.count()).select_from(Carer))
    with pytest.raises(Conflict) as refused:
        services.add_carer(db_session, provider.id, staff, name="赵 秀英", phone="13912345679",
                           id_number=VALID.lower())
    assert refused.value.field == "id_number"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Carer)) == before
    # Another provider may employ the same person.
    services.add_carer(db_session, other.id, factories.staff(other), name="赵秀英", phone="13912345678",
                       id_number=VALID)


def test_a_key_from_another_secret_cannot_read_the_number(app, db_session):
    from cryptography.fernet import InvalidToken

    token, digest = identity.encrypt(VALID), identity.digest(VALID)
    app.config["CARER_ID_SECRET"] = "another-secret-entirely-0123456789abcdef"
    try:
        with pytest.raises(InvalidToken):
            identity.decrypt(token)
        assert identity.digest(VALID) != digest
    finally:
        app.config.pop("CARER_ID_SECRET")
    assert identity.decrypt(token) == VALID


# --- qualifications and their expiry ----------------------------------------------------


def test_a_qualification_is_valid_up_to_and_including_its_expiry_day(app, db_session):
    from providers.carers.kinds import QualificationKind as K

    worker = carer(factories.provider().id, qualified_until=date(2026, 11, 30), kinds=(K.ELDER_CARE,))
    assert worker.valid_qualification(K.ELDER_CARE, date(2026, 11, 30)) is not None
    assert worker.valid_qualification(K.ELDER_CARE, date(2026, 12, 1)) is None
    assert worker.valid_qualification(K.NURSE, date(2026, 11, 2)) is None


def test_the_expiry_warning_lists_expired_and_soon_expiring_certificates(app, db_session):
    from providers.carers.kinds import QualificationKind as K

    provider = factories.provider()
    expired = carer(provider.id, name="钱美华", qualified_until=date(2026, 10, 31), kinds=(K.HEALTH,))
    soon = carer(provider.id, name="孙立军", qualified_until=date(2026, 12, 2), kinds=(K.ELDER_CARE,))
    carer(provider.id, name="李远", qualified_until=date(2026, 12, 3), kinds=(K.ELDER_CARE,))  # 31 days: not yet
    carer(provider.id, name="周停", qualified_until=date(2026, 11, 5), kinds=(K.HEALTH,), active=False)
    found = expiry.expiring(db_session, provider.id, date(2026, 11, 2))
    assert [(e.carer.id, e.expired, e.days_left) for e in found] == [(expired.id, True, -2), (soon.id, False, 30)]


def test_the_dashboard_warns_of_expiring_certificates_by_carer_name(client, auth, db_session, clock):
    from providers.carers.kinds import QualificationKind as K

    provider = factories.provider()
    staff = factories.staff(provider)
    carer(provider.id, name="钱美华", qualified_until=date(2026, 11, 20), kinds=(K.HEALTH,))
    db_session.commit()
    auth.login(staff)
    page = html(client.get("/provider"))
    assert "expiring-qualifications" in page and "钱美华" in page and "2026-11-20" in page
    assert "王秀兰" not in page.split("expiring-qualifications")[1].split("</section>")[0]  # valid to 2099


# --- the pages ---------------------------------------------------------------------------


def _roster_counts():
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Carer)),
            db.session.scalar(sa.select(sa.func.count()).select_from(CarerQualification)),
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)))


def test_adding_a_carer_shows_every_mistake_at_once_then_adds_them(client, auth, db_session, clock):
    provider = factories.provider()
    staff = factories.staff(provider)
    auth.login(staff)
    before = _roster_counts()
    refused = submit(client, "/provider/carers", action="/provider/carers",
                     fields={"name": "", "phone": "12345", "id_number": "110105194912310021"})
    page = html(refused)
    assert refused.status_code == 422
    assert 'id="name-error"' in page and "Enter the carer" in page
    assert "Enter a mobile number of 11 digits" in page
    assert "does not match" in page
    assert _roster_counts() == before

    added = submit(client, "/provider/carers", action="/provider/carers",
                   fields={"name": "赵秀英", "phone": "139 1234 5678", "id_number": VALID})
    assert added.status_code == 302
    roster = html(client.get("/provider/carers"))
    assert "赵秀英" in roster and "1101**********002X" in roster and VALID not in roster
    again = submit(client, "/provider/carers", action="/provider/carers",
                   fields={"name": "赵秀英", "phone": "13912345678", "id_number": VALID})
    assert again.status_code == 409 and "already on your roster" in html(again)


def test_a_carers_page_edits_qualifications_and_deactivates(client, auth, db_session, clock):
    provider = factories.provider()
    staff = factories.staff(provider)
    worker = services.add_carer(db_session, provider.id, staff, name="赵秀英", phone="13912345678", id_number=VALID)
    db_session.commit()
    url = f"/provider/carers/{worker.id}"
    auth.login(staff)
    page = open_page(client, url)
    assert "1101**********002X" in html(page.response) and VALID not in html(page.response)

    before = _roster_counts()
    refused = submit(client, url, action=f"{url}/qualifications",
                     fields={"kind": "elder_care", "number": "", "expires_on": "2027-13-01"})
    assert refused.status_code == 422
    assert "Enter the certificate number." in html(refused) and 'id="expires_on-error"' in html(refused)
    assert _roster_counts() == before

    added = submit(client, url, action=f"{url}/qualifications",
                   fields={"kind": "elder_care", "number": "YL2026-0001", "expires_on": "2027-06-30"})
    assert added.status_code == 302
    qualification = db_session.scalar(sa.select(CarerQualification).where(CarerQualification.carer_id == worker.id))
    assert (qualification.kind.value, qualification.number, qualification.expires_on) == (
        "elder_care", "YL2026-0001", date(2027, 6, 30))

    edited = submit(client, url, action=url, fields={"name": "赵秀英", "phone": "13800000000"})
    assert edited.status_code == 302

    removed = submit(client, url, action=f"{url}/qualifications/{qualification.id}/remove")
    assert removed.status_code == 302
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CarerQualification)
                             .where(CarerQualification.carer_id == worker.id)) == 0

    assert submit(client, url, action=f"{url}/deactivate").status_code == 302
    db_session.expire_all()
    assert db_session.get(Carer, worker.id).active is False and db_session.get(Carer, worker.id).phone == "13800000000"
    actions = set(db_session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "carer",
                                                                         AuditEvent.object_id == worker.id)))
    assert actions == {"carer.added", "carer.qualification_added", "carer.updated", "carer.qualification_removed",
                       "carer.deactivated"}
    assert submit(client, url, action=f"{url}/reactivate").status_code == 302


def test_another_providers_carer_is_not_found(client, auth, db_session, clock):
    worker = carer(factories.provider().id)
    db_session.commit()
    auth.login(factories.staff(factories.provider()))
    assert client.get(f"/provider/carers/{worker.id}").status_code == 404


# --- the API (read-only) ------------------------------------------------------------------


def test_the_api_lists_the_providers_carers_masked(client, db_session, clock):
    from tests.helpers import bearer

    provider = factories.provider()
    staff = factories.staff(provider)
    services.add_carer(db_session, provider.id, staff, name="赵秀英", phone="13912345678", id_number=VALID)
    carer(factories.provider().id, name="别家的")
    db_session.commit()
    response = client.get("/api/v1/my/carers", headers=bearer(staff))
    assert response.status_code == 200
    body = response.get_json()
    assert sorted(c["name"] for c in body) == ["王秀兰", "赵秀英"]  # the factory's carer and the new one
    added = next(c for c in body if c["name"] == "赵秀英")
    assert added["id_number"] == "1101**********002X" and VALID not in response.get_data(as_text=True)
    assert client.get("/api/v1/my/carers").status_code == 401
