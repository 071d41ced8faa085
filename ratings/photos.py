"""Complaint photos: JPEG or PNG only, at most three, stored like providers' documents.

The checks and the storage are :mod:`providers.uploads` (sniffed type, size
limit, random name outside the web root); here a PDF, which documents may be,
is refused, and every file already stored is removed when any one is refused.
:func:`photo_problems` finds what is wrong with the chosen files before any is
stored, so a form reports it together with its other fields' refusals.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.errors import Invalid, LinliError, Problems
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


def photo_problems(files) -> list[LinliError]:
    """What is wrong with the chosen files (too many, too large, not JPEG/PNG), each
    reason once; reads nothing past the size limit and leaves every stream at its start."""
    files = chosen(files)
    found: list[LinliError] = []

    def refuse(error: LinliError) -> None:
        if all(str(error) != str(one) for one in found):
            found.append(error)

    if len(files) > MAX_PHOTOS:
        refuse(Invalid(_l("Attach at most %(n)d photos.", n=MAX_PHOTOS), field=FIELD))
    limit = int(current_app.config["DOCUMENT_MAX_BYTES"])
    for upload in files:
        stream = upload.stream
        data = stream.read(limit + 1)
        stream.seek(0)
        if len(data) > limit:
            refuse(Invalid(_l("The file is too large: at most %(size)s.", size=uploads.readable_size(limit)),
                           field=FIELD))
        kind = uploads.sniff(data[:16])
        if kind is None or kind[0] not in PHOTO_TYPES:
            refuse(_refuse_type())
    return found


def save_photos(files) -> list[StoredFile]:
    """Check and store up to three photos; raise :class:`Problems` (nothing left behind)."""
    Problems(photo_problems(files)).raise_if_any()
    files = chosen(files)
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
