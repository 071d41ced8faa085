"""Visit photos: only images, re-encoded without EXIF, hashed, seen by the booking's
provider staff and officials (an official's view is logged), a 404 for anyone else."""

from __future__ import annotations

import hashlib
import io

import sqlalchemy as sa
from PIL import Image

from app.audit import AuditEvent
from app.extensions import db
from providers import uploads
from providers.bookings.models import BookingStatus as S
from providers.visits.models import PhotoStage, VisitPhoto, VisitRecord
from tests import factories
from tests import visit_helpers as v
from tests.forms import open_page

GPS_IFD, MAKE, DATETIME = 0x8825, 0x010F, 0x0132


def photos_of(booking) -> list[VisitPhoto]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(VisitPhoto).where(VisitPhoto.booking_id == booking.id)
                                   .order_by(VisitPhoto.id)))


def check_out_with(client, booking, **files):
    page = open_page(client, "/provider/today")
    return page.submit(button="Check out: the visit is done",
                       fields={f"visit{booking.id}-{name}": value for name, value in files.items()})


def served(clock):
    listing, staff, resident = v.setting()
    booking = v.in_service(listing, staff, resident, clock)
    v.at_the_end(clock, booking)
    return staff, resident, booking


def test_photos_are_stored_re_encoded_without_exif_hashed_and_server_stamped(client, auth, en, clock):
    staff, _resident, booking = served(clock)
    taken = v.image_bytes("JPEG", exif={MAKE: "FakePhone", DATETIME: "2020:01:01 08:00:00"})
    assert Image.open(io.BytesIO(taken)).getexif()[MAKE] == "FakePhone"  # the test's photo has EXIF
    auth.login(staff)
    response = check_out_with(client, booking, before_photo=(taken, "IMG_0001.JPG"),
                              after_photo=(v.image_bytes("WEBP"), "after.webp"))
    assert response.status_code == 302
    before, after = photos_of(booking)
    assert (before.stage, before.content_type, after.stage, after.content_type) == (
        PhotoStage.BEFORE, "image/jpeg", PhotoStage.AFTER, "image/webp")
    stored = uploads.document_path(before.stored_name).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == before.sha256 and before.size_bytes == len(stored)
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif() and "exif" not in image.info and image.size == (24, 16)
    assert before.uploaded_at == clock.now()  # the server's time, not the photo's 2020


def test_a_file_that_is_not_an_image_is_refused_on_its_field(client, auth, en, clock):
    staff, _resident, booking = served(clock)
    auth.login(staff)
    response = check_out_with(client, booking, after_photo=(b"%PDF-1.4 not a photo", "photo.jpg"))
    assert response.status_code == 422
    assert 'id="visit%d-after_photo-error">This file is not a photo' % booking.id in response.get_data(as_text=True)
    db.session.expire_all()
    assert photos_of(booking) == [] and booking.status == S.IN_SERVICE
    # A fake header is no better: a PNG signature over nothing.
    response = check_out_with(client, booking, before_photo=(b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "x.png"))
    assert response.status_code == 422 and photos_of(booking) == []


def test_a_photo_too_large_is_refused(app, client, auth, en, clock):
    staff, _resident, booking = served(clock)
    auth.login(staff)
    app.config["VISIT_PHOTO_MAX_BYTES"] = 100
    try:
        response = check_out_with(client, booking, after_photo=(v.image_bytes("PNG", size=(200, 200)), "a.png"))
    finally:
        app.config["VISIT_PHOTO_MAX_BYTES"] = 8 * 1024 * 1024
    assert response.status_code == 422 and "The photo is too large" in response.get_data(as_text=True)


def test_an_arrival_photo_at_check_in(client, auth, en, clock):
    listing, staff, resident = v.setting()
    booking = v.accepted(listing, staff, resident, clock)
    clock.set(booking.starts_at)
    auth.login(staff)
    page = open_page(client, "/provider/today")
    response = page.submit(button="Check in: I have arrived",
                           fields={f"visit{booking.id}-before_photo": (v.image_bytes("PNG"), "door.png")})
    assert response.status_code == 302
    assert [p.stage for p in photos_of(booking)] == [PhotoStage.BEFORE]
    assert db.session.get(VisitRecord, booking.id) is not None


def test_the_photo_is_for_the_provider_s_staff_and_officials_and_every_view_is_logged(client, auth, clock):
    staff, resident, booking = served(clock)
    photo = v.add_photo(booking, staff)
    url = f"/visits/{booking.id}/photos/{photo.id}"
    auth.login(staff)
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert db.session.scalar(sa.select(AuditEvent.actor_id).where(AuditEvent.action == "visit.evidence_viewed")) \
        == staff.id  # the staff's look is logged too
    assert "no-store" in response.headers["Cache-Control"]
    assert f"/visits/{booking.id}/photos/{photo.id}" in client.get(f"/provider/bookings/{booking.id}").get_data(
        as_text=True)
    auth.logout()

    def viewed() -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "visit.evidence_viewed"))

    before = viewed()
    official = factories.official()
    auth.login(official)
    assert client.get(url).status_code == 200
    assert viewed() == before + 1
    auth.logout()
    for other in (resident, factories.staff()):
        auth.login(other)
        assert client.get(url).status_code == 404
        auth.logout()
    auth.login(resident)
    assert url not in client.get(f"/bookings/{booking.id}").get_data(as_text=True)  # no raw evidence
