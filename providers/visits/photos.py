"""Visit photos: checked by their content, re-encoded, hashed, stamped by the server.

A photo is evidence, so what is stored is what the server made of it:

- only JPEG, PNG and WebP are accepted, judged by decoding the bytes with Pillow
  (the browser's content type and the file name are never trusted);
- at most ``VISIT_PHOTO_MAX_BYTES`` bytes;
- re-encoded from its pixels, so EXIF (where, when and with which phone it was
  taken, as the phone claims it) and any other metadata are dropped;
- the sha256 is of the stored file (the same photo on two visits is a flag), and
  the time is the server's (``uploaded_at``), never the photo's own.

:func:`prepare` does the checking and re-encoding in memory, before anything is
written; :func:`store` writes the file (through :mod:`app.storage`: in place once
the transaction commits, removed if it rolls back) and its row.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from app import storage
from app.clock import now
from app.errors import Invalid
from app.models import User
from providers.bookings.models import Booking
from providers.uploads import readable_size
from providers.visits.models import PhotoStage, VisitPhoto

# Pillow's format name → (content type, extension, save options).
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg", {"quality": 88}),
    "PNG": ("image/png", ".png", {"optimize": True}),
    "WEBP": ("image/webp", ".webp", {"quality": 88}),
}
# A decompression bomb is refused rather than decoded (about 40 megapixels).
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class PreparedPhoto:
    """A checked, re-encoded photo, not yet stored."""

    stage: PhotoStage
    data: bytes
    content_type: str
    extension: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _not_an_image(field: str) -> Invalid:
    return Invalid(_l("This file is not a photo: only JPEG, PNG or WebP images are accepted."), field=field)


def prepare(upload, stage: PhotoStage, *, field: str) -> PreparedPhoto | None:
    """Check and re-encode an uploaded file (a werkzeug ``FileStorage`` or None); None when
    no file was chosen; Invalid on ``field`` when it is too large or not an image."""
    if upload is None or not getattr(upload, "filename", None):
        return None
    limit = int(current_app.config["VISIT_PHOTO_MAX_BYTES"])
    raw = upload.stream.read(limit + 1)
    if not raw:
        return None
    if len(raw) > limit:
        raise Invalid(_l("The photo is too large: at most %(size)s.", size=readable_size(limit)), field=field)
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format
            if kind not in FORMATS:
                raise _not_an_image(field)
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid(_l("The photo has too many pixels."), field=field)
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            # Turn it upright first: the orientation lives in the EXIF we are about to drop.
            image = ImageOps.exif_transpose(image)
            if kind == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            # A new image from the pixels alone: no EXIF, XMP, comments or profile survive.
            clean = Image.frombytes(image.mode, image.size, image.tobytes())
            if image.mode == "P" and image.getpalette():
                clean.putpalette(image.getpalette())
            out = io.BytesIO()
            content_type, extension, options = FORMATS[kind]
            clean.save(out, format=kind, **options)
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise _not_an_image(field) from None
    return PreparedPhoto(stage=stage, data=out.getvalue(), content_type=content_type, extension=extension)


def store(session: Session, booking: Booking, photo: PreparedPhoto, user: User, *, field: str) -> VisitPhoto:
    """Write the file and its row (flushed); the file is named once the session commits."""
    stored_name = storage.store(photo.data, photo.extension, field=field, session=session)
    row = VisitPhoto(booking_id=booking.id, stage=photo.stage, stored_name=stored_name,
                     content_type=photo.content_type, size_bytes=len(photo.data), sha256=photo.sha256,
                     uploaded_at=now(), uploaded_by_id=user.id)
    session.add(row)
    session.flush()
    return row
