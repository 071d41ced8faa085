"""Four eyes on the decide page: a form the official may not submit is not offered, the page
says why, and another official gets the form and can submit it as rendered."""

from __future__ import annotations

import pytest

from app.extensions import db
from ratings.supervision import appeals, review
from ratings.supervision.models import ReportStatus, Sanction
from tests import factories
from tests.forms import open_page
from tests.sanction_helpers import provider_with_staff, report

pytestmark = pytest.mark.usefixtures("english_messages")

PLAN = {"root_cause": "人手不足", "corrective_actions": "增加护理员", "preventive_steps": "每周复核"}


def appealed_report():
    provider, staff = provider_with_staff()
    item = report(provider)
    confirmer = factories.official()
    review.confirm(db.session, item.id, confirmer)
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    db.session.commit()
    return item, confirmer


def test_the_confirming_official_is_not_offered_the_appeal_decision(client, auth):
    item, confirmer = appealed_report()
    auth.login(confirmer)
    page = open_page(client, f"/official/supervision/reports/{item.id}/decide")
    assert not [f for f in page.forms() if f.action.endswith("/appeal-decision")]
    assert 'id="appeal-refusal"' in page.html
    assert "You confirmed this penalty report: a different official must decide the appeal." in page.html


def test_another_official_decides_the_appeal_with_the_rendered_form(client, auth):
    item, _ = appealed_report()
    auth.login(factories.official())
    page = open_page(client, f"/official/supervision/reports/{item.id}/decide")
    assert 'id="appeal-refusal"' not in page.html
    done = page.form(action=f"/official/supervision/reports/{item.id}/appeal-decision").submit(
        fields={"outcome": "upheld", "reason": "整改到位"})
    assert done.status_code == 302
    db.session.refresh(item)
    assert item.status == ReportStatus.OVERTURNED


def test_the_service_refuses_with_the_same_rule(client):
    item, confirmer = appealed_report()
    assert appeals.decider_refusal(review.review_of(db.session, item.id), confirmer) is not None
    with pytest.raises(Exception, match="a different official must decide the appeal"):
        appeals.decide(db.session, item.id, confirmer, outcome="upheld", reason="x")


def test_the_first_approver_of_a_removal_is_offered_neither_confirm_nor_dismiss(client, auth):
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.REMOVAL)
    first = factories.official()
    review.confirm(db.session, item.id, first, sanction="removal")
    db.session.commit()
    auth.login(first)
    page = open_page(client, f"/official/supervision/reports/{item.id}/decide")
    actions = [f.action for f in page.forms()]
    assert not any(a.endswith("/confirm") or a.endswith("/dismiss") for a in actions)
    assert 'id="confirm-refusal"' in page.html and 'id="dismiss-refusal"' in page.html
    auth.login(factories.official())
    second = open_page(client, f"/official/supervision/reports/{item.id}/decide")
    assert second.form(action=f"/official/supervision/reports/{item.id}/confirm").submit().status_code == 302
    db.session.refresh(item)
    assert item.status == ReportStatus.CONFIRMED
