"""A listing's photos: checked by their content, resized, stripped, stored with the listing.

What a provider uploads is never stored as sent:

- only JPEG, PNG and WebP are accepted, judged by decoding the bytes with Pillow
  (the browser's content type and the file name are never trusted), each at most
  ``LISTING_PHOTO_MAX_BYTES`` (8 MB) and :data:`MAX_PIXELS`; a listing keeps at
  most :data:`MAX_PHOTOS`;
- it is turned upright (the EXIF orientation), then re-made from its pixels alone, so
  EXIF (where and with which phone it was taken), XMP and comments are dropped;
- it is stored twice: at most :data:`FULL_EDGE` pixels on its longer side (the listing
  page) and :data:`THUMB_EDGE` (the catalogue card).

:func:`prepare_all` does all the checking and re-encoding in memory and writes nothing,
so a refused upload leaves nothing behind (``providers.listings.check_input`` calls it
with the other checks of the form, and every problem shows at once); :func:`store_all`
writes the files through :mod:`app.storage` (in place once the transaction commits,
deleted if it rolls back) and their rows.  :func:`remove` drops a photo's row; its files
are deleted after the commit.  Adding or removing a photo touches the listing, so the
catalogue's cached pages (providers/catalogue_cache.py) move on.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app import audit, storage
from app.clock import now
from app.db import UTCDateTime
from app.errors import Invalid, NotFound, Problems
from app.extensions import db
from app.models import User
from app.uow import after_commit
from providers.models import Listing, ListingStatus, Provider, ProviderStaff
from providers.uploads import clean_filename, readable_size

FIELD = "photos"
MAX_PHOTOS = 6
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
FULL_EDGE = 1600
THUMB_EDGE = 480
MAX_PIXELS = 40_000_000  # a decompression bomb is refused rather than decoded

# Pillow's format name → (content type, extension, save options).
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", ".png", {"optimize": True}),
    "WEBP": ("image/webp", ".webp", {"quality": 85}),
}
ACCEPT = ",".join(content_type for content_type, _ext, _opts in FORMATS.values())


class ListingPhoto(db.Model):
    """One photo of a listing: its stored (resized, stripped) file and thumbnail."""

    __tablename__ = "listing_photo"
    __table_args__ = (sa.Index("ix_listing_photo_listing_id_position", "listing_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    thumb_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    thumb_width: Mapped[int] = mapped_column()
    thumb_height: Mapped[int] = mapped_column()
    size_bytes: Mapped[int] = mapped_column()
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    listing: Mapped[Listing] = relationship()


@dataclass(frozen=True)
class Encoded:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class PreparedPhoto:
    """A checked, resized and stripped photo, not yet stored."""

    name: str
    content_type: str
    extension: str
    full: Encoded
    thumb: Encoded


def max_bytes() -> int:
    return int(current_app.config.get("LISTING_PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES))


def _chosen(uploads: Iterable | None) -> list:
    """The files actually chosen (a browser sends an empty part for an empty file input)."""
    return [u for u in (uploads or []) if u is not None and getattr(u, "filename", None)]


def _encode(image: Image.Image, kind: str, edge: int) -> Encoded:
    copy = image.copy()
    copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: no EXIF, XMP, comments or profile survive.
    clean = Image.frombytes(copy.mode, copy.size, copy.tobytes())
    if copy.mode == "P" and copy.getpalette():
        clean.putpalette(copy.getpalette())
    out = io.BytesIO()
    _type, _ext, options = FORMATS[kind]
    clean.save(out, format=kind, **options)
    return Encoded(out.getvalue(), clean.width, clean.height)


def prepare(upload) -> PreparedPhoto:
    """Check and re-encode one uploaded file; Invalid on :data:`FIELD` saying which file
    and why (too large, or not a JPEG, PNG or WebP image)."""
    name = clean_filename(upload.filename)
    limit = max_bytes()
    raw = upload.stream.read(limit + 1)
    if not raw:
        raise Invalid(_l("“%(name)s” is empty: choose the photo again.", name=name), field=FIELD)
    if len(raw) > limit:
        raise Invalid(_l("“%(name)s” is too large: a photo is at most %(size)s.", name=name,
                         size=readable_size(limit)), field=FIELD)
    not_a_photo = Invalid(_l("“%(name)s” is not a photo: only JPEG, PNG or WebP images are accepted.", name=name),
                          field=FIELD)
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format
            if kind not in FORMATS:
                raise not_a_photo
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid(_l("“%(name)s” has too many pixels.", name=name), field=FIELD)
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            # Upright first: the orientation lives in the EXIF about to be dropped.
            upright = ImageOps.exif_transpose(image)
            if kind == "JPEG" and upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            full, thumb = _encode(upright, kind, FULL_EDGE), _encode(upright, kind, THUMB_EDGE)
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise not_a_photo from None
    content_type, extension, _options = FORMATS[kind]
    return PreparedPhoto(name=name, content_type=content_type, extension=extension, full=full, thumb=thumb)


def prepare_all(uploads, already: int = 0) -> list[PreparedPhoto]:
    """Every chosen file checked (nothing written); one :class:`Problems` with a message
    for each refused file, and for too many photos (``already`` are kept)."""
    chosen = _chosen(uploads)
    problems = Problems()
    if already + len(chosen) > MAX_PHOTOS:
        problems.add(_l("A listing has at most %(n)d photos: it has %(kept)d, so add at most %(left)d more.",
                        n=MAX_PHOTOS, kept=already, left=max(0, MAX_PHOTOS - already)), field=FIELD)
    prepared = []
    for upload in chosen:
        try:
            prepared.append(prepare(upload))
        except Invalid as error:
            problems.extend(error)
    problems.raise_if_any()
    return prepared


def photos_of(session: Session, listing_id: int) -> list[ListingPhoto]:
    return list(session.scalars(sa.select(ListingPhoto).where(ListingPhoto.listing_id == listing_id)
                                .order_by(ListingPhoto.position, ListingPhoto.id)))


def count_of(session: Session, listing: Listing) -> int:
    if listing.id is None:
        return 0
    return session.scalar(sa.select(sa.func.count()).where(ListingPhoto.listing_id == listing.id)) or 0


def first_photos(session: Session, listing_ids: Iterable[int]) -> dict[int, ListingPhoto]:
    """Each listing's first photo (the catalogue card's thumbnail), in one statement."""
    ids = list(listing_ids)
    if not ids:
        return {}
    first = (sa.select(ListingPhoto.listing_id, sa.func.min(ListingPhoto.position).label("position"))
             .where(ListingPhoto.listing_id.in_(ids)).group_by(ListingPhoto.listing_id).subquery())
    rows = session.scalars(
        sa.select(ListingPhoto).join(first, sa.and_(first.c.listing_id == ListingPhoto.listing_id,
                                                    first.c.position == ListingPhoto.position))
        .order_by(ListingPhoto.id))
    found: dict[int, ListingPhoto] = {}
    for photo in rows:
        found.setdefault(photo.listing_id, photo)
    return found


def store_all(session: Session, listing: Listing, prepared: list[PreparedPhoto], *, actor: User) -> list[ListingPhoto]:
    """Write the prepared photos' files and rows after the listing's others (flushed)."""
    if not prepared:
        return []
    position = session.scalar(sa.select(sa.func.max(ListingPhoto.position))
                              .where(ListingPhoto.listing_id == listing.id)) or 0
    rows = []
    for photo in prepared:
        position += 1
        stored = storage.store(photo.full.data, photo.extension, field=FIELD, session=session)
        thumb = storage.store(photo.thumb.data, photo.extension, field=FIELD, session=session)
        rows.append(ListingPhoto(
            listing_id=listing.id, position=position, stored_name=stored, thumb_name=thumb,
            content_type=photo.content_type, width=photo.full.width, height=photo.full.height,
            thumb_width=photo.thumb.width, thumb_height=photo.thumb.height, size_bytes=len(photo.full.data),
            uploaded_at=now(), uploaded_by_id=actor.id))
    session.add_all(rows)
    listing.updated_at = now()  # the catalogue shows the first photo: its cached pages move on
    session.flush()
    audit.record(session, actor=actor, action="listing.photos_added", object_type="listing", object_id=listing.id,
                 after={"photos": [row.id for row in rows]})
    return rows


def remove(session: Session, listing: Listing, photo_id: int, *, actor: User) -> None:
    """Drop one photo of ``listing`` (404 for any other); its files go once this commits."""
    photo = session.scalar(sa.select(ListingPhoto).where(ListingPhoto.id == photo_id,
                                                         ListingPhoto.listing_id == listing.id))
    if photo is None:
        raise NotFound(_l("No such photo."))
    names = (photo.stored_name, photo.thumb_name)
    session.delete(photo)
    listing.updated_at = now()
    session.flush()
    audit.record(session, actor=actor, action="listing.photo_removed", object_type="listing", object_id=listing.id,
                 before={"photo": photo_id})
    after_commit(session, lambda: [storage.discard(name) for name in names])


def visible_photo(session: Session, photo_id: int, user) -> ListingPhoto:
    """The photo if ``user`` may see it: anyone when its listing is published by a provider
    taking bookings (as the listing page), its provider's staff and officials always; 404 otherwise."""
    photo = session.get(ListingPhoto, photo_id)
    if photo is None:
        raise NotFound(_l("No such photo."))
    listing = photo.listing
    provider = session.get(Provider, listing.provider_id)
    if listing.status == ListingStatus.PUBLISHED and provider.takes_bookings_at(now()):
        return photo
    if getattr(user, "is_authenticated", False):
        if user.is_official:
            return photo
        staff = session.scalar(sa.select(ProviderStaff.user_id).where(
            ProviderStaff.provider_id == provider.id, ProviderStaff.user_id == user.id))
        if staff is not None:
            return photo
    raise NotFound(_l("No such photo."))
