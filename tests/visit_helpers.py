"""Visits in tests: a listing with a checklist, a resident with a home, real image bytes."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from werkzeug.datastructures import FileStorage

from app.clock import now
from app.extensions import db
from providers.bookings import services as bookings
from providers.visits import photos
from providers.visits.models import HomeLocation, LocationMethod, PhotoStage
from tests import factories
from tests.carer_helpers import carer_for

HOME = (31.230416, 121.473701)  # 上海人民广场
NEAR = (31.231300, 121.473701)  # about 98 m north
FAR = (31.275000, 121.473701)  # about 5 km north
CHECKLIST = ["打扫卫生", "测量血压", "陪同聊天"]


def image_bytes(fmt: str = "PNG", *, size=(24, 16), exif: dict | None = None) -> bytes:
    """A real small image in ``fmt``; ``exif`` tags (number → value) are written into it."""
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    options = {}
    if exif:
        data = Image.Exif()
        for tag, value in exif.items():
            data[tag] = value
        options["exif"] = data.tobytes()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def upload(data: bytes, filename: str = "photo.jpg") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename)


def set_home(resident, lat_lon=HOME):
    db.session.add(HomeLocation(resident_id=resident.id, lat=lat_lon[0], lon=lat_lon[1], accuracy_m=10,
                                method=LocationMethod.ENTERED, consent_at=now(), set_by_id=resident.id))
    db.session.commit()


def setting(home: bool = True):
    """A listing with a checklist, one staff member of its provider, a resident (with a home)."""
    listing = factories.listing(checklist=list(CHECKLIST))
    staff = factories.staff(listing.provider)
    resident = factories.resident(listing.communities[0])
    if home:
        set_home(resident)
    return listing, staff, resident


def accepted(listing, staff, resident, clock, **kwargs):
    booking = factories.booking(listing, resident, **kwargs)
    bookings.accept(db.session, booking, staff, carer_id=carer_for(booking))
    db.session.commit()
    return booking


def in_service(listing, staff, resident, clock, facts=None, **kwargs):
    """A booking checked in at its start (``facts``: the check-in's)."""
    booking = accepted(listing, staff, resident, clock, **kwargs)
    clock.set(booking.starts_at)
    bookings.check_in(db.session, booking, staff, facts)
    db.session.commit()
    return booking


def at_the_end(clock, booking, minutes: int = 0):
    clock.set(booking.ends_at + timedelta(minutes=minutes))


def add_photo(booking, staff, stage=PhotoStage.AFTER):
    prepared = photos.prepare(upload(image_bytes("PNG"), "p.png"), stage, field="after_photo")
    row = photos.store(db.session, booking, prepared, staff, field="after_photo")
    db.session.commit()
    return row
