"""Qualification document files: sniffed, size-limited, stored outside the web root.

The browser's content type and the file name are never trusted: the type comes
from the file's first bytes, the stored name is random, and the original name
is only kept (sanitised) for display and download.  The bytes are written by
:mod:`app.storage`: under a temporary name until the row that records them is
committed, removed when it rolls back; a full disk is a 507 and a folder that
cannot be written a 503 on the file's field, with nothing left half-written.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l

from app import storage
from app.errors import Invalid

# Extensions a display name may keep for each accepted type.
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
}

# Magic numbers of the accepted types.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str


def readable_size(size: int) -> str:
    """A byte count as people read it: 5 MB, 512 KB."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.3g} MB"
    return f"{max(size // 1024, 1)} KB"


def sniff(head: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in SIGNATURES:
        if head.startswith(magic):
            return content_type, extension
    return None


def clean_filename(name: str | None) -> str:
    """A display name with no path, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(". ")
    return (name or "document")[:200]


def display_name(filename: str | None, content_type: str, extension: str) -> str:
    """The cleaned original name, ending in an extension that matches the real type."""
    name = clean_filename(filename)
    if not name.lower().endswith(EXTENSIONS[content_type]):
        name = name[: 200 - len(extension)] + extension
    return name


def upload_dir() -> Path:
    return storage.folder()


def save_document(stream: BinaryIO, filename: str | None, field: str = "file") -> StoredFile:
    """Check and store an uploaded file; raise :class:`Invalid` with the reason, or
    :class:`app.storage.StorageFull` / :class:`app.storage.StorageUnavailable` when
    the upload folder cannot take it.  The file gets its name when ``db.session``
    commits and is deleted if it rolls back."""
    limit = current_app.config["DOCUMENT_MAX_BYTES"]
    data = stream.read(limit + 1)
    if not data:
        raise Invalid(_l("Choose a file to upload."), field=field)
    if len(data) > limit:
        raise Invalid(
            _l("The file is too large: at most %(size)s.", size=readable_size(limit)),
            field=field,
        )
    kind = sniff(data[:16])
    if kind is None:
        raise Invalid(_l("Only PDF, JPEG or PNG files are accepted."), field=field)
    content_type, extension = kind
    # In place once db.session commits; StorageFull / StorageUnavailable (on ``field``) otherwise.
    stored_name = storage.store(data, extension, field=field)
    return StoredFile(
        stored_name=stored_name,
        original_name=display_name(filename, content_type, extension),
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def document_path(stored_name: str) -> Path:
    """The file of a stored document; refuses names that could leave the folder."""
    if "/" in stored_name or "\\" in stored_name or stored_name.startswith("."):
        raise Invalid(_l("No such file."))
    return upload_dir() / stored_name


def discard(stored: StoredFile) -> None:
    """Remove a file whose database row was not committed."""
    storage.discard(stored.stored_name)
