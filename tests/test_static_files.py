"""Static files: content-hashed addresses cached for a year, gzip when asked, the favicon."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest
from flask import url_for

from app.assets import IMMUTABLE, StaticFiles
from tests import factories

CSS = Path(__file__).resolve().parents[1] / "app" / "static" / "css" / "linli.css"


def hashed_url(app, filename: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=filename)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_a_page_links_the_stylesheet_script_and_icons_by_their_content_hash(client):
    html = client.get("/").get_data(as_text=True)
    assert f'href="/static/css/linli.{digest(CSS)}.css"' in html
    assert re.search(r'src="/static/js/linli\.[0-9a-f]{12}\.js"', html)
    assert re.search(r'<link rel="icon" href="/static/favicon\.[0-9a-f]{12}\.svg" type="image/svg\+xml">', html)
    assert re.search(r'<link rel="icon" href="/static/favicon\.[0-9a-f]{12}\.ico"', html)


def test_a_hashed_address_is_cached_for_a_year_and_revalidates_with_its_etag(app, client):
    url = hashed_url(app, "css/linli.css")
    answer = client.get(url)
    assert answer.status_code == 200 and answer.data == CSS.read_bytes()
    assert answer.headers["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert answer.mimetype == "text/css" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cookie" not in answer.headers.get("Vary", "") and "Set-Cookie" not in answer.headers
    etag = answer.headers["ETag"]
    assert etag == f'"{digest(CSS)}"'
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get(url, headers={"If-Modified-Since": answer.headers["Last-Modified"]})
    assert since.status_code == 304


def test_the_plain_and_an_old_address_still_answer_the_file_but_only_for_revalidation(app, client):
    for url in ("/static/css/linli.css", "/static/css/linli.0123456789ab.css"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.data == CSS.read_bytes()
        assert answer.headers["Cache-Control"] == "public, no-cache", url
        assert "immutable" not in answer.headers["Cache-Control"]
    assert client.get("/static/css/nothing.css").status_code == 404
    assert client.get("/static/css/nothing.0123456789ab.css").status_code == 404
    assert client.get("/static/../config.py").status_code == 404


def test_a_logged_in_user_gets_the_same_cacheable_file(client, auth):
    auth.login(factories.resident())
    answer = client.get(hashed_url(client.application, "js/linli.js"))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == IMMUTABLE
    assert "Cookie" not in answer.headers.get("Vary", "") and "Set-Cookie" not in answer.headers


def test_text_files_are_gzipped_for_a_client_that_asks(app, client):
    url = hashed_url(app, "css/linli.css")
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == CSS.read_bytes()
    assert len(packed.data) < CSS.stat().st_size / 2
    assert packed.headers["Cache-Control"] == IMMUTABLE
    assert packed.headers["ETag"] == f'"{digest(CSS)}-gz"'
    assert client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
                      ).status_code == 304
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == CSS.read_bytes()
    assert "Accept-Encoding" in plain.headers["Vary"]
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    # A range of the plain file works; a gzipped answer is never cut.
    part = client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == CSS.read_bytes()[:10]


def test_the_favicon_is_served_at_its_usual_address(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert icon.headers["Cache-Control"] == "public, max-age=86400"
    svg = client.get("/static/favicon.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


def test_an_edited_file_gets_a_new_address_and_its_old_address_stops_being_immutable(tmp_path, app):
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "site.css"
    sheet.write_text("body { color: red; }\n" * 20)
    files = StaticFiles(tmp_path)
    assert files.preload() == 1
    first = files.hashed_name("css/site.css")
    assert re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", first)
    assert files.hashed_name("css/site.css") == first

    sheet.write_text("body { color: blue; }\n" * 20)
    second = files.hashed_name("css/site.css")
    assert second != first and second == f"css/site.{digest(sheet)}.css"
    with app.test_request_context():
        assert files.response(second).headers["Cache-Control"] == IMMUTABLE
        old = files.response(first)  # a page cached before the edit still gets the stylesheet
        assert old.headers["Cache-Control"] == "public, no-cache"
        assert old.get_data() == sheet.read_bytes()


def test_a_file_whose_own_name_looks_hashed_is_served_as_it_is(tmp_path, app):
    (tmp_path / "vendor.0123456789ab.js").write_text("var x = 1;")
    files = StaticFiles(tmp_path)
    with app.test_request_context():
        answer = files.response("vendor.0123456789ab.js")
    assert answer.status_code == 200 and answer.get_data() == b"var x = 1;"


@pytest.mark.parametrize("name", ["", "../secret", "/etc/passwd"])
def test_nothing_outside_the_folder_is_served(tmp_path, app, name):
    (tmp_path / "static").mkdir()
    (tmp_path / "secret").write_text("no")
    files = StaticFiles(tmp_path / "static")
    assert files.get(name) is None
