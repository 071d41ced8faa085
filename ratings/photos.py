"""Complaint photos: JPEG or PNG only, at most three, stored like providers' documents.

The checks and the storage are :mod:`providers.uploads` (sniffed type, size
limit, random name outside the web root); here a PDF, which documents may be,
is refused, and every file already stored is removed when any one is refused.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.errors import Invalid
from providers import uploads
from providers.uploads import StoredFile

PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
MAX_PHOTOS = 3
ACCEPTED_PHOTOS = ".jpg,.jpeg,.png,image/jpeg,image/png"
FIELD = "photos"


def chosen(files) -> list:
    """The file parts that carry a file (a browser sends an empty part when none is chosen)."""
    return [f for f in files or () if f is not None and getattr(f, "filename", None)]


def _refuse_type():
    return Invalid(_l("Photos must be JPEG or PNG images."), field=FIELD)


def save_photos(files) -> list[StoredFile]:
    """Check and store up to three photos; raise :class:`Invalid` (nothing left behind)."""
    files = chosen(files)
    if len(files) > MAX_PHOTOS:
        raise Invalid(_l("Attach at most %(n)d photos.", n=MAX_PHOTOS), field=FIELD)
    stored: list[StoredFile] = []
    try:
        for upload in files:
            stream = upload.stream
            head = stream.read(16)
            kind = uploads.sniff(head)
            if kind is None or kind[0] not in PHOTO_TYPES:
                raise _refuse_type()
            stream.seek(0)
            saved = uploads.save_document(stream, upload.filename, field=FIELD)
            stored.append(saved)
            if saved.content_type not in PHOTO_TYPES:  # belt and braces: the stored type decides
                raise _refuse_type()
    except Exception:
        discard_all(stored)
        raise
    return stored


def discard_all(stored: list[StoredFile]) -> None:
    """Remove stored files whose database rows were not committed."""
    for item in stored:
        uploads.discard(item)
