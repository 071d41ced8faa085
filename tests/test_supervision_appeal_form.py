"""The provider's appeal form shows every problem at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from ratings.supervision import review
from ratings.supervision.sanction_models import PenaltyAppeal
from tests import factories
from tests.forms import open_page
from tests.sanction_helpers import provider_with_staff, report

pytestmark = pytest.mark.usefixtures("english_messages")


def test_every_problem_of_the_appeal_is_shown_together(client, auth):
    provider, staff = provider_with_staff()
    item = report(provider)
    review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    auth.login(staff)
    page = open_page(client, f"/provider/supervision/reports/{item.id}/appeal")
    refused = page.form(action=f"/provider/supervision/reports/{item.id}/appeal").submit(
        fields={"root_cause": "", "corrective_actions": "", "preventive_steps": "每周复核",
                "files": [(b"MZ not a pdf", "x.exe")]})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "There are 3 problems" in html
    assert "Root cause is required." in html and "Corrective actions is required." in html
    assert "Only PDF, JPEG or PNG" in html and "每周复核" in html  # the input is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PenaltyAppeal)) == 0
