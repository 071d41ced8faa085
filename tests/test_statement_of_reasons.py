"""The statement of reasons of a penalty report: what it says, in which language, and who may
download it."""

from __future__ import annotations

from app.extensions import db
from ratings.supervision import review as supervision_review
from tests import factories
from tests.sanction_helpers import provider_with_staff, report


def _evidenced_report(provider):
    listing = factories.listing(provider)
    resident = factories.resident(listing.communities[0])
    late = [factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=d)) for d in (1, 2)]
    made = report(provider)
    made.evidence = {"booking": [b.id for b in late], "visit": [901, 902]}
    db.session.commit()
    return made, late


def test_the_provider_downloads_every_fact_of_the_decision(client, auth, en):
    provider, staff = provider_with_staff()
    official = factories.official(name="王科长")
    made, late = _evidenced_report(provider)
    supervision_review.confirm(db.session, made.id, official)
    db.session.commit()
    auth.login(staff)
    response = client.get(f"/supervision/reports/{made.id}/statement")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    assert f'filename="statement-of-reasons-{made.id}.md"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert f"# Statement of reasons: penalty report #{made.id}" in text
    assert "version 1, in force since" in text and "/rules" in text
    assert "Late bookings" in text and "12.0% (6 / 50)" in text and "above 10 % and at least 5" in text
    for b in late:
        assert f"booking #{b.id}" in text
    assert "visit: #901, #902" in text  # a kind of evidence added later is still listed
    assert "Proposed automatically by the evaluator" in text and "step 1 of the ladder" in text
    assert "Decided by the official 王科长" in text and "You can appeal until" in text
    assert f"/provider/supervision/reports/{made.id}/appeal" in text
    assert "&lt;" not in text and "<dd>" not in text  # plain text, not HTML


def test_an_undecided_report_says_no_official_decided_and_chinese_is_the_default(client, auth):
    provider, staff = provider_with_staff()
    made, _late = _evidenced_report(provider)
    auth.login(staff)
    text = client.get(f"/supervision/reports/{made.id}/statement").get_data(as_text=True)
    assert "- 服务商: " in text  # Chinese by default (the statement's own headings: translations-pending)
    assert "No official has decided yet" in text or "尚无" in text or "尚未" in text


def test_only_the_reports_provider_and_officials_may_read_it(client, auth):
    provider, _staff = provider_with_staff()
    made, _late = _evidenced_report(provider)
    _other, other_staff = provider_with_staff()
    auth.login(other_staff)
    assert client.get(f"/supervision/reports/{made.id}/statement").status_code == 404
    auth.login(factories.resident())
    assert client.get(f"/supervision/reports/{made.id}/statement").status_code in (403, 404)
    auth.login(factories.official())
    assert client.get(f"/supervision/reports/{made.id}/statement").status_code == 200
    assert client.get("/supervision/reports/999999/statement").status_code == 404
