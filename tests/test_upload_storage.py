"""Issue 12, item 12: a full disk or an unwritable upload folder refuses the upload cleanly.

Files are written under a temporary name and get their own only when the row that
records them commits; a rollback deletes them; a full disk is a 507 and a folder
that cannot be written a 503, with the message on the page (or a problem document
under /api/), no row, and nothing left in the folder; /healthz says so.

How the failures are made (the tests run as root, for whom chmod stops nothing):

* an unwritable folder for real: the upload folder's path is a regular file, or
  lies under one, so the operating system itself refuses (EEXIST / ENOTDIR);
* a read-only file system (EROFS) and a full disk (ENOSPC) through the one seam
  the storage owns, ``app.storage.disk``: the OS call fails as the kernel would
  make it fail.  The ENOSPC write first writes half the bytes for real, so the
  test sees that the partial file is removed.
"""

from __future__ import annotations

import errno
import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app import storage
from app.clock import today
from app.models import CommunityTier
from providers.models import ProviderStatus, QualificationDocument
from tests import factories
from tests import subsidy_helpers as h

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n" + b"%" * 4096


@pytest.fixture
def folder(app, tmp_path, monkeypatch) -> Path:
    """A fresh upload folder for this test."""
    path = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(path))
    return path


def files_in(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def fail_with(code: int):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def full_disk(monkeypatch):
    calls = []

    def write(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage.disk, "write", write)
    return calls


# --- the page: submit the form the dashboard rendered ----------------------------------------


@pytest.fixture
def staff(client, auth):
    client.set_cookie("linli_lang", "en")
    provider = factories.provider(status=ProviderStatus.PENDING)
    user = factories.staff(provider)
    auth.login(user)
    return user


def submit_document_form(client, body: bytes = PDF):
    """Fill and submit the upload form /provider renders (its hidden fields, its button)."""
    html = client.get("/provider").get_data(as_text=True)
    form = BeautifulSoup(html, "html.parser").find("form", action="/provider/documents")
    data = {i["name"]: i.get("value", "") for i in form.find_all("input")
            if i.get("name") and i.get("type") not in ("file", "submit")}
    data["kind"] = form.find("select", attrs={"name": "kind"}).find("option")["value"]
    data["expires_on"] = (today() + timedelta(days=365)).isoformat()
    button = form.find("button", attrs={"type": "submit"}) or form.find("button")
    if button is not None and button.get("name"):
        data[button["name"]] = button.get("value", "")
    data["file"] = (io.BytesIO(body), "营业执照.pdf")
    return client.post(form["action"], data=data, content_type="multipart/form-data")


def document_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(QualificationDocument))


def test_an_upload_gets_its_name_only_with_its_committed_row(client, staff, folder, db_session):
    response = submit_document_form(client)
    assert response.status_code == 302
    (document,) = db_session.scalars(sa.select(QualificationDocument))
    assert files_in(folder) == [document.stored_name]  # no temporary file left
    assert (folder / document.stored_name).read_bytes() == PDF


def test_a_full_disk_is_a_507_on_the_page_with_no_row_and_no_partial_file(
        client, staff, folder, db_session, monkeypatch):
    before = document_count(db_session)
    calls = full_disk(monkeypatch)
    response = submit_document_form(client)
    assert len(calls) == 2  # half the file was really written before the disk "filled"
    assert response.status_code == 507
    html = response.get_data(as_text=True)
    assert "storage is full, so the file was not saved" in html
    assert document_count(db_session) == before
    assert files_in(folder) == []


def test_a_read_only_file_system_is_a_503_on_the_page(client, staff, folder, db_session, monkeypatch):
    folder.mkdir()
    before = document_count(db_session)
    monkeypatch.setattr(storage.disk, "open", fail_with(errno.EROFS))
    response = submit_document_form(client)
    assert response.status_code == 503
    assert "storage is not writable" in response.get_data(as_text=True)
    assert document_count(db_session) == before and files_in(folder) == []


def test_an_upload_folder_replaced_by_a_file_is_a_503(client, staff, app, tmp_path, monkeypatch, db_session):
    """No seam: the operating system itself refuses to make a folder where a file is."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"x")
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(blocker / "uploads"))
    before = document_count(db_session)
    response = submit_document_form(client)
    assert response.status_code == 503
    assert "storage is not writable" in response.get_data(as_text=True)
    assert document_count(db_session) == before and blocker.read_bytes() == b"x"


# --- the API: a problem document --------------------------------------------------------------


def test_a_full_disk_is_a_507_problem_under_the_api(client, auth, db_session, clock, folder, monkeypatch):
    from billing.subsidies.models import SubsidyClaim

    client.set_cookie("linli_lang", "en")
    provider, staff, community = h.provider_with_staff(CommunityTier.BENCHMARK)
    project = h.register(provider, staff, community)
    clock.advance(days=10)
    auth.login(staff)
    calls = full_disk(monkeypatch)
    response = client.post(f"/api/v1/my/subsidies/projects/{project.id}/claim", data={
        "accepted_on": today().isoformat(), "verified_quantity": "5", "verified_investment_fen": "100000",
        "acceptance_certificate": (io.BytesIO(PDF), "cert.pdf"),
        "invoices": [(io.BytesIO(PDF), "i.pdf")]}, content_type="multipart/form-data")
    assert calls and response.status_code == 507
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["title"] == "insufficient-storage" and "storage is full" in problem["detail"]
    assert "acceptance_certificate" in problem["errors"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SubsidyClaim)) == 0
    assert files_in(folder) == []


def test_a_second_file_failing_removes_the_first_one_too(client, auth, db_session, clock, folder, monkeypatch):
    client.set_cookie("linli_lang", "en")
    provider, staff, community = h.provider_with_staff(CommunityTier.BENCHMARK)
    project = h.register(provider, staff, community)
    clock.advance(days=10)
    auth.login(staff)
    real_open, opened = os.open, []

    def open_once(path, flags, mode=0o777):
        opened.append(path)
        if len(opened) > 1:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, flags, mode)

    monkeypatch.setattr(storage.disk, "open", open_once)
    response = client.post(f"/api/v1/my/subsidies/projects/{project.id}/claim", data={
        "accepted_on": today().isoformat(), "verified_quantity": "5", "verified_investment_fen": "100000",
        "acceptance_certificate": (io.BytesIO(PDF), "cert.pdf"),
        "invoices": [(io.BytesIO(PDF), "i.pdf")]}, content_type="multipart/form-data")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert "not writable" in response.get_json()["detail"]
    assert len(opened) == 2 and files_in(folder) == []


# --- the storage itself -----------------------------------------------------------------------


def test_a_stored_file_waits_under_a_temporary_name_until_the_commit(app, folder, db_session):
    name = storage.store(PDF, ".pdf")
    assert files_in(folder) == [storage.TEMP_PREFIX + name]  # never served: document_path refuses dot names
    db_session.commit()
    assert files_in(folder) == [name]


def test_a_rollback_deletes_the_temporary_file(app, folder, db_session):
    storage.store(PDF, ".pdf")
    db_session.rollback()
    assert files_in(folder) == []


def test_a_session_closed_without_commit_deletes_the_temporary_file(app, folder):
    from sqlalchemy.orm import Session

    from app.extensions import db

    with Session(db.engine) as session:
        storage.store(PDF, ".pdf", session=session)
        assert len(files_in(folder)) == 1
    assert files_in(folder) == []


def test_a_savepoint_rolled_back_keeps_the_outer_transactions_file(app, folder, db_session):
    name = storage.store(PDF, ".pdf")
    with db_session.begin_nested() as nested:
        nested.rollback()
    db_session.commit()
    assert files_in(folder) == [name]


# --- /healthz -------------------------------------------------------------------------------


def test_healthz_reports_a_writable_upload_folder_with_its_free_space(client, folder):
    response = client.get("/healthz")
    assert response.status_code == 200
    uploads = response.get_json()["uploads"]
    assert uploads["writable"] is True and uploads["ok"] is True
    assert uploads["free_bytes"] >= uploads["min_free_bytes"] > 0
    assert files_in(folder) == []  # the probe file is gone


def test_healthz_is_503_when_the_upload_folder_cannot_be_written(client, app, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(blocker / "uploads"))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["database"] is True
    assert body["uploads"]["writable"] is False and body["uploads"]["error"] == "ENOTDIR"


def test_healthz_is_503_on_a_read_only_file_system(client, folder, monkeypatch):
    monkeypatch.setattr(storage.disk, "open", fail_with(errno.EROFS))
    body = client.get("/healthz")
    assert body.status_code == 503 and body.get_json()["uploads"]["error"] == "EROFS"


def test_healthz_is_503_when_free_space_is_below_the_minimum(client, app, folder, monkeypatch):
    real = os.statvfs(folder.parent)
    monkeypatch.setattr(storage.disk, "statvfs", lambda _path: os.statvfs_result(
        (real.f_bsize, real.f_frsize, real.f_blocks, 1, 1, *tuple(real)[5:])))
    response = client.get("/healthz")
    assert response.status_code == 503
    uploads = response.get_json()["uploads"]
    assert uploads["writable"] is True and uploads["free_bytes"] == real.f_frsize < uploads["min_free_bytes"]
