"""Static files: content-hashed addresses, long caching, gzip, and the favicon.

``url_for('static', filename='css/linli.css')`` gives ``/static/css/linli.<hash>.css``,
the hash being the first 12 hex digits of the file's SHA-256: a new version of a file gets
a new address, so an address can be cached for a year and never asked again
(``Cache-Control: public, max-age=31536000, immutable``).  The file's plain address, and an
address with an older hash (a page cached before a deploy), still answer the current
file, but only for revalidation (``no-cache`` with its ETag, so a 304 when unchanged).

Text files (CSS, JavaScript, SVG, JSON, plain text) are gzipped once, in memory, and sent
gzipped to a client that says it accepts gzip (``Vary: Accept-Encoding``; the gzipped
answer has its own ETag).  The stdlib does it: no extra package.  Files are read when the
app starts and read again when one changes on disk (size or modification time), so an
edited stylesheet gets its new address without a restart.

``/favicon.ico`` answers the icon for browsers that ask for it there (base.html links
the SVG one and the ICO by their hashed addresses).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import safe_join

ONE_YEAR = 31536000
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"
REVALIDATE = "public, no-cache"
FAVICON_CACHE = "public, max-age=86400"
HASH_LENGTH = 12
HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{HASH_LENGTH}}})(?P<ext>\.[A-Za-z0-9]+)$")
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml",
                "application/xml", "image/x-icon", "image/vnd.microsoft.icon")
MIN_GZIP_BYTES = 256


@dataclass(frozen=True)
class StaticFile:
    stamp: tuple[int, int]  # (mtime_ns, size): read again when it changes
    body: bytes
    digest: str
    mimetype: str
    gzipped: bytes | None
    modified: float


def _mimetype(name: str) -> str:
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind == "text/javascript":
        kind = "application/javascript"
    return kind


def _compressible(mimetype: str) -> bool:
    return mimetype.startswith(COMPRESSIBLE)


class StaticFiles:
    """The files of one static folder, each with its hash and (for text) its gzipped body."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = str(folder)
        self._files: dict[str, StaticFile] = {}
        self._lock = threading.Lock()

    def preload(self) -> int:
        """Read, hash and compress every file now (at start-up); returns how many."""
        count = 0
        for root, _dirs, names in os.walk(self.folder):
            for name in names:
                relative = os.path.relpath(os.path.join(root, name), self.folder).replace(os.sep, "/")
                if self.get(relative) is not None:
                    count += 1
        return count

    def get(self, filename: str) -> StaticFile | None:
        """The file as it is on disk now, or ``None`` when there is no such file."""
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        # One entry per file, however its name was spelt ("css/./linli.css", "css//linli.css"):
        # the cache cannot be grown by asking for the same file under new names.
        filename = os.path.relpath(path, self.folder).replace(os.sep, "/")
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = self._files.get(filename)
        if known is not None and known.stamp == stamp:
            return known
        body = Path(path).read_bytes()
        mimetype = _mimetype(filename)
        gzipped = None
        if _compressible(mimetype) and len(body) >= MIN_GZIP_BYTES:
            # mtime=0: the same bytes (and ETag) on every worker and every start.
            gzipped = gzip.compress(body, compresslevel=9, mtime=0)
            if len(gzipped) >= len(body):
                gzipped = None
        found = StaticFile(stamp=stamp, body=body, digest=hashlib.sha256(body).hexdigest()[:HASH_LENGTH],
                           mimetype=mimetype, gzipped=gzipped, modified=stat.st_mtime)
        with self._lock:
            self._files[filename] = found
        return found

    def hashed_name(self, filename: str) -> str:
        """``css/linli.css`` → ``css/linli.<hash>.css`` (unchanged for a file that is not there)."""
        found = self.get(filename)
        if found is None:
            return filename
        stem, dot, ext = filename.rpartition(".")
        if not dot or "/" in ext:
            return f"{filename}.{found.digest}"
        return f"{stem}.{found.digest}.{ext}"

    def split(self, filename: str) -> tuple[str, str | None]:
        """The file an address names and the hash it carries (``None`` for a plain name)."""
        if self.get(filename) is not None:
            return filename, None
        match = HASHED.match(filename)
        if match:
            return match["stem"] + match["ext"], match["digest"]
        return filename, None

    def response(self, filename: str, *, cache_control: str | None = None) -> Response:
        """The answer for ``filename`` (plain or hashed): the file, gzipped when asked, with
        its ETag, Last-Modified and how long it may be kept; 304 when the client has it."""
        name, wanted = self.split(filename)
        found = self.get(name)
        if found is None:  # a plain answer: the page would need the session (its CSRF token)
            return Response("404 Not Found: no such file\n", status=404, mimetype="text/plain")
        if cache_control is None:
            cache_control = IMMUTABLE if wanted == found.digest else REVALIDATE
        gzipped = found.gzipped is not None and _accepts_gzip()
        response = Response(found.gzipped if gzipped else found.body, mimetype=found.mimetype)
        if found.mimetype.startswith("text/") or found.mimetype == "application/javascript":
            response.charset = "utf-8"
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        if found.gzipped is not None:
            response.vary.add("Accept-Encoding")
        response.set_etag(found.digest + ("-gz" if gzipped else ""))
        response.last_modified = found.modified
        response.headers["Cache-Control"] = cache_control
        if gzipped:
            return response.make_conditional(request)
        return response.make_conditional(request, accept_ranges=True, complete_length=len(found.body))


def _accepts_gzip() -> bool:
    """The client accepts gzip (``Accept-Encoding: gzip``, not ``gzip;q=0``)."""
    return request.accept_encodings["gzip"] > 0


class SessionlessFiles(SecureCookieSessionInterface):
    """The cookie session, except for static files and the favicon: their requests get the
    null session, which is never saved, so their answers carry no ``Vary: Cookie`` nor
    ``Set-Cookie`` and a shared cache keeps one copy for everyone."""

    def __init__(self, prefixes: tuple[str, ...]):
        self.prefixes = prefixes

    def open_session(self, app, request):
        if request.path.startswith(self.prefixes):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> StaticFiles:
    """Serve ``app.static_folder`` with hashed addresses, and the favicon at /favicon.ico."""
    from app.access import public
    from app.headers import cacheable

    files = StaticFiles(app.static_folder)
    files.preload()
    app.extensions["linli.static_files"] = files

    @app.url_defaults
    def _hashed_static(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = files.hashed_name(values["filename"])

    def static(filename):
        return files.response(filename)

    app.view_functions["static"] = public(cacheable(static))

    @public
    @cacheable
    def favicon():
        """The site's icon (app/static/favicon.ico), for browsers that ask for it here."""
        return files.response("favicon.ico", cache_control=FAVICON_CACHE)

    app.add_url_rule("/favicon.ico", endpoint="favicon", view_func=favicon)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = SessionlessFiles((app.static_url_path + "/", "/favicon.ico"))
    return files
