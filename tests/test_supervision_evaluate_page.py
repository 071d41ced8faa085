"""Running an evaluation from the supervision page: a preview that writes nothing, then
storing exactly what was previewed (a fingerprint guards against the data changing)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.audit import AuditEvent
from ratings.supervision.models import EvaluationRun, PenaltyReport, ProviderSnapshot
from tests import factories
from tests.forms import open_page, page_of
from tests.helpers import count
from tests.supervision_helpers import booking, bookings, local, serving_provider

pytestmark = pytest.mark.usefixtures("english_messages")

PAGE = "/official/supervision/evaluate"


def row_counts() -> dict[str, int]:
    """Rows in every table of the schema."""
    tables = db.metadata.sorted_tables
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables}


def late_provider(name: str = "迟到家政"):
    provider, listing, resident, staff = serving_provider(name=name)
    bookings(listing, resident, 50, late=6)
    return provider, listing, resident


def test_the_preview_shows_grades_and_proposals_and_writes_nothing(client, auth):
    provider, _, _ = late_provider()
    auth.login(factories.official())
    db.session.commit()
    before = row_counts()
    page = client.get(f"{PAGE}?as_of=2026-11-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="preview-{provider.id}"' in html and "迟到家政" in html
    assert "Warning" in html and "Store this run" in html
    db.session.rollback()
    assert row_counts() == before


def test_store_keeps_exactly_the_preview_and_audits(client, auth):
    provider, _, _ = late_provider()
    official = factories.official()
    auth.login(official)
    page = open_page(client, f"{PAGE}?as_of=2026-11-01")
    stored = page.form(button="Store this run").submit(follow_redirects=True)
    assert stored.status_code == 200
    run = db.session.scalar(sa.select(EvaluationRun))
    assert run.trigger == "page" and run.started_by_id == official.id
    assert count(ProviderSnapshot, ProviderSnapshot.run_id == run.id) >= 1
    assert count(PenaltyReport, PenaltyReport.provider_id == provider.id) == 1
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "supervision.run"))
    assert event.actor_id == official.id and event.object_id == run.id
    again = open_page(client, f"{PAGE}?as_of=2026-11-01")
    assert "stored already" in again.html and "Store this run" not in again.html


def test_data_changed_after_the_preview_shows_the_new_preview_and_stores_nothing(client, auth):
    provider, listing, resident = late_provider()
    auth.login(factories.official())
    page = open_page(client, f"{PAGE}?as_of=2026-11-01")
    booking(listing, resident, local(2026, 10, 20, 9), late=True)  # one more late visit meanwhile
    db.session.commit()
    refused = page.form(button="Store this run").submit()
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "The figures changed since your preview" in html
    assert count(EvaluationRun) == 0 and count(PenaltyReport) == 0
    assert f'id="preview-{provider.id}"' in html and "Store this run" in html
    fresh = page_of(client, PAGE, refused)  # the new preview stores
    assert fresh.form(button="Store this run").submit().status_code == 302
    assert count(EvaluationRun) == 1


def test_a_bad_or_future_day_is_refused_on_its_field(client, auth):
    auth.login(factories.official())
    future = client.get(f"{PAGE}?as_of=2026-12-01")
    assert future.status_code == 422 and "in the future" in future.get_data(as_text=True)
    bad = client.get(f"{PAGE}?as_of=next+week")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "YYYY-MM-DD" in html and "error-summary" in html
    empty = client.get(f"{PAGE}?as_of=")
    assert empty.status_code == 422 and "Choose the day" in empty.get_data(as_text=True)
    assert count(EvaluationRun) == 0
