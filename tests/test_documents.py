"""Qualification documents: upload checks, storage outside the web root, who may download."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.clock import today
from providers import registration, uploads
from providers.models import ProviderStatus, QualificationDocument
from tests import factories
from tests.forms import submit

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def client(client):
    """The pages in English, so the tests can read the messages."""
    client.set_cookie("linli_lang", "en")
    return client


@pytest.fixture
def provider():
    return factories.provider(status=ProviderStatus.PENDING)


@pytest.fixture
def staff(auth, provider):
    user = factories.staff(provider)
    auth.login(user)
    return user


def upload_dir(app) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def stored_files(app) -> set[str]:
    folder = upload_dir(app)
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def documents_of(session, provider) -> list[QualificationDocument]:
    return list(
        session.scalars(
            sa.select(QualificationDocument).where(QualificationDocument.provider_id == provider.id)
        )
    )


def upload(client, body: bytes | None = PDF, filename: str = "营业执照.pdf", *, raw: bool = False, **fields):
    """Upload with the dashboard's document form as rendered; ``raw`` posts a hand-made
    body instead (access rules, a provider shown no form, a tampered kind)."""
    data = {"kind": "business_licence", "expires_on": (today() + timedelta(days=365)).isoformat()}
    data.update(fields)
    if not raw:
        if body is not None:
            data["file"] = (body, filename)
        return submit(client, "/provider", action="/provider/documents", fields=data)
    if body is not None:
        data["file"] = (io.BytesIO(body), filename)
    return client.post("/provider/documents", data=data, content_type="multipart/form-data")


# --- uploading ------------------------------------------------------------------------------


def test_a_document_is_stored_under_a_random_name_outside_the_static_folder(
    app, client, db_session, provider, staff
):
    before = stored_files(app)
    response = upload(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/provider")

    (document,) = documents_of(db_session, provider)
    assert document.original_name == "营业执照.pdf"
    assert document.content_type == "application/pdf" and document.size_bytes == len(PDF)
    assert document.stored_name != document.original_name
    assert len(document.stored_name) == len("0" * 32 + ".pdf") and document.stored_name.endswith(".pdf")
    assert stored_files(app) - before == {document.stored_name}
    path = uploads.document_path(document.stored_name)
    assert path.read_bytes() == PDF
    static = Path(app.static_folder).resolve()
    assert not path.resolve().is_relative_to(static)

    (event,) = db_session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "document.uploaded", AuditEvent.object_id == provider.id
        )
    ).all()
    assert event.actor_id == staff.id and event.after["document_id"] == document.id

    html = client.get("/provider").get_data(as_text=True)
    assert "The document is uploaded." in html
    assert "Business licence" in html and "营业执照.pdf" in html
    assert f'href="/documents/{document.id}"' in html
    assert client.get(f"/static/{document.stored_name}").status_code == 404


def test_two_uploads_of_the_same_name_get_different_stored_names(app, client, db_session, provider, staff):
    assert upload(client).status_code == 302
    assert upload(client, PNG, "licence.png", kind="other").status_code == 302
    first, second = documents_of(db_session, provider)
    assert first.stored_name != second.stored_name
    assert second.content_type == "image/png" and second.stored_name.endswith(".png")


def test_path_traversal_in_the_file_name_is_neutralised(app, client, db_session, provider, staff):
    before = stored_files(app)
    assert upload(client, filename="../../etc/passwd.pdf").status_code == 302
    (document,) = documents_of(db_session, provider)
    assert document.original_name == "passwd.pdf"
    assert "/" not in document.stored_name and ".." not in document.stored_name
    assert stored_files(app) - before == {document.stored_name}
    assert not (upload_dir(app).parent.parent / "etc" / "passwd.pdf").exists()
    download = client.get(f"/documents/{document.id}")
    assert 'filename=passwd.pdf' in download.headers["Content-Disposition"]


def test_a_name_whose_extension_lies_gets_the_real_one(client, db_session, provider, staff):
    assert upload(client, filename="licence.exe").status_code == 302
    (document,) = documents_of(db_session, provider)
    assert document.original_name == "licence.exe.pdf"


@pytest.mark.parametrize(
    "case, body, fields, field, message",
    [
        ("text named .pdf", b"just some text, not a PDF", {}, "file", "Only PDF, JPEG or PNG files are accepted."),
        ("html", b"<html><script>alert(1)</script></html>", {}, "file", "Only PDF, JPEG or PNG"),
        ("no file", None, {}, "file", "Choose a file to upload."),
        ("empty file", b"", {}, "file", "Choose a file to upload."),
        ("expired", PDF, {"expires_on": "2026-11-01"}, "expires_on", "has already expired"),
        ("expires today", PDF, {"expires_on": "2026-11-02"}, "expires_on", "has already expired"),
        ("no date", PDF, {"expires_on": ""}, "expires_on", "Enter the date the document expires."),
        ("not a date", PDF, {"expires_on": "31/12/2027"}, "expires_on", "Enter the date as year-month-day"),
        ("unknown kind", PDF, {"kind": "passport"}, "kind", "Choose the kind of document."),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 20 else None,
)
def test_bad_uploads_are_refused_and_leave_no_row_and_no_file(
    app, client, db_session, provider, staff, case, body, fields, field, message
):
    before = stored_files(app)
    response = upload(client, body, raw=case == "unknown kind", **fields)  # the page offers no such kind
    assert response.status_code == 422, case
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html, case
    assert documents_of(db_session, provider) == []
    assert stored_files(app) == before


def test_an_oversized_document_is_refused(app, client, db_session, provider, staff, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1024)
    before = stored_files(app)
    response = upload(client, PDF + b"0" * 1024)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="file-error"' in html and "The file is too large: at most 1 KB." in html
    assert documents_of(db_session, provider) == []
    assert stored_files(app) == before
    assert upload(client, PDF).status_code == 302  # a small one still passes


def test_a_stored_file_is_removed_when_the_database_part_fails(
    app, client, db_session, provider, staff, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(registration, "add_document", broken)
    before = stored_files(app)
    with pytest.raises(RuntimeError):
        upload(client)
    assert stored_files(app) == before
    assert documents_of(db_session, provider) == []


def test_a_removed_provider_cannot_upload(app, client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.REMOVED, status_reason="多次违规")
    auth.login(factories.staff(provider))
    html = client.get("/provider").get_data(as_text=True)
    assert "多次违规" in html and 'action="/provider/documents"' not in html
    before = stored_files(app)
    response = upload(client, raw=True)  # the dashboard shows it no form
    assert response.status_code == 422
    assert "A removed provider cannot upload documents." in response.get_data(as_text=True)
    assert documents_of(db_session, provider) == [] and stored_files(app) == before


def test_only_provider_staff_upload(client, auth, db_session):
    assert upload(client, raw=True).status_code == 302  # anonymous: to the log-in page
    auth.login(factories.official())
    assert upload(client, raw=True).status_code == 403


# --- downloading --------------------------------------------------------------------------


def test_staff_and_officials_download_and_others_get_404(client, auth, db_session, provider, staff):
    assert upload(client, filename="执照 2026.pdf").status_code == 302
    (document,) = documents_of(db_session, provider)
    url = f"/documents/{document.id}"

    own = client.get(url)
    assert own.status_code == 200 and own.data == PDF
    assert own.mimetype == "application/pdf"
    assert own.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in own.headers["Cache-Control"]
    assert own.headers["X-Content-Type-Options"] == "nosniff"

    auth.logout()
    assert client.get(url).status_code == 302  # anonymous: log in first
    for other in (factories.staff(factories.provider()), factories.resident()):
        auth.login(other)
        assert client.get(url).status_code == 404
        auth.logout()
    auth.login(factories.official())
    assert client.get(url).status_code == 200
    assert client.get("/documents/999999").status_code == 404


def test_officials_see_documents_with_expired_ones_flagged(client, auth, db_session, provider, staff, clock):
    assert upload(client, expires_on=(today() + timedelta(days=10)).isoformat()).status_code == 302
    (document,) = documents_of(db_session, provider)
    clock.advance(days=30)
    auth.logout()
    auth.login(factories.official())
    html = client.get(f"/official/providers/{provider.id}").get_data(as_text=True)
    assert f'href="/documents/{document.id}"' in html and "Expired" in html
    assert "Document uploaded" in html  # in the audit trail
