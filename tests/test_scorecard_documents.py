"""Expired qualification documents: a scorecard figure like the others.

Its value and its evidence come from one ``where()`` (the newest copy of each
kind, expired before the window's local end day), it is computed in the one
statement with every other figure, and the evaluator's "documents" threshold
reads it (no query of its own).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.auth.services import issue_token
from app.extensions import db
from providers.models import DocumentKind
from ratings import scorecard as sc
from ratings.supervision import rules
from ratings.supervision.evaluator import evaluate, evidence_ids
from tests import factories
from tests.supervision_helpers import SHANGHAI, as_of, document, serving_provider

TODAY = date(2026, 11, 2)  # the suite's clock: 10:00 in Shanghai on 2 November 2026


@pytest.fixture
def papers(db_session):
    """A provider whose licence expired twice (the newer copy is the one that counts), whose
    insurance expired but was renewed, and whose health certificate expires today."""
    provider, _listing, _resident, staff = serving_provider()
    old_licence = document(provider, date(2025, 6, 30), uploaded_by=staff)
    licence = document(provider, date(2026, 6, 30), uploaded_by=staff)
    document(provider, date(2026, 1, 31), kind=DocumentKind.LIABILITY_INSURANCE, uploaded_by=staff)
    document(provider, date(2027, 1, 31), kind=DocumentKind.LIABILITY_INSURANCE, uploaded_by=staff)
    document(provider, TODAY, kind=DocumentKind.HEALTH_CERTIFICATE, uploaded_by=staff)
    return {"provider": provider, "staff": staff, "licence": licence, "old_licence": old_licence}


def test_the_value_is_the_kinds_whose_newest_copy_expired_and_the_evidence_is_those_copies(papers):
    card = sc.scorecard(db.session, papers["provider"].id, sc.current_window(90), with_ids=True)
    figure = card[sc.EXPIRED_DOCUMENTS.key]
    assert figure.value == 1 and figure.ids == [papers["licence"].id]
    assert figure.metric.kind == "count" and figure.metric.subject is sc.DOCUMENTS


def test_a_document_is_valid_through_its_expiry_day(papers, clock):
    pid = papers["provider"].id
    clock.set(datetime(2026, 11, 2, 23, 59, tzinfo=SHANGHAI))
    assert sc.scorecard(db.session, pid, sc.current_window(90))[sc.EXPIRED_DOCUMENTS.key].value == 1
    clock.set(datetime(2026, 11, 3, 0, 0, tzinfo=SHANGHAI))  # the health certificate expired yesterday
    card = sc.scorecard(db.session, pid, sc.current_window(90), with_ids=True)
    assert card[sc.EXPIRED_DOCUMENTS.key].value == 2


def test_the_day_is_the_windows_local_end_day(app):
    end = datetime(2026, 11, 2, 17, 0, tzinfo=timezone.utc)  # 01:00 on 3 November in Shanghai
    assert sc.Window.ending(end, 90).day == date(2026, 11, 3)
    assert sc.Window.local_days(end, 90, SHANGHAI).day == date(2026, 11, 3)  # ends at that day's midnight
    assert sc.Window.local_days(end, 90, timezone.utc).day == date(2026, 11, 2)


def test_it_is_in_the_one_statement_and_agrees_with_its_own_select(papers):
    window = sc.current_window(90)
    pid = papers["provider"].id
    assert sc.all_providers(db.session, window)[pid][sc.EXPIRED_DOCUMENTS.key] == 1
    per_provider = dict(db.session.execute(sc.EXPIRED_DOCUMENTS.per_provider(window)).all())
    assert per_provider[pid] == 1


def test_the_evaluator_reads_the_figure_and_its_evidence_from_the_metric(papers):
    rule_set = rules.current(db.session)
    evaluation = evaluate(db.session, rule_set, as_of(TODAY + timedelta(days=1)))
    result = next(r for r in evaluation.results if r.provider_id == papers["provider"].id)
    # as of 3 November 00:00 the health certificate (valid through 2 November) has expired too
    assert result.figures[rules.EXPIRED_DOCUMENTS] == 2 and "documents" in result.breaches
    found = evidence_ids(db.session, evaluation)[(papers["provider"].id, "documents")]
    assert papers["old_licence"].id not in found["document"] and papers["licence"].id in found["document"]
    assert len(found["document"]) == 2


def test_the_page_and_the_api_show_the_documents_behind_the_figure(client, auth, papers):
    client.set_cookie("linli_lang", "en")
    auth.login(papers["staff"])
    page = client.get("/provider/scorecard?metric=expired_documents")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Expired qualification documents" in html
    assert f'id="document-{papers["licence"].id}"' in html and f'id="document-{papers["old_licence"].id}"' not in html
    _, raw = issue_token(db.session, papers["staff"], "test")
    db.session.commit()
    body = client.get("/api/v1/my/scorecard", headers={"Authorization": f"Bearer {raw}"}).get_json()
    figure = {f["key"]: f for f in body["figures"]}["expired_documents"]
    assert (figure["subject"], figure["kind"], figure["value"], figure["ids"]) == (
        "document", "count", 1, [papers["licence"].id])


def test_a_provider_without_documents_has_none_expired(db_session):
    quiet = factories.provider()
    assert sc.scorecard(db.session, quiet.id, sc.current_window(90))[sc.EXPIRED_DOCUMENTS.key].value == 0
