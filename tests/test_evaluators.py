"""The evaluator role: made by the CLI, appointed and ended on the programme page
(audited), and treated as no official anywhere else."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from app.models import Role, User
from ratings.followups.models import EvaluatorAppointment
from tests import factories
from tests.programme_helpers import open_programme
from tests.rendered_forms import submit


def test_the_cli_creates_an_evaluator(app):
    result = app.test_cli_runner().invoke(args=["create-evaluator", "--phone", "13800009999", "--name", "第三方评估员",
                                                "--password", "correct horse battery"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.phone == "13800009999"))
    assert user.role == Role.EVALUATOR and not user.is_official


def test_an_official_appoints_and_ends_an_evaluator_on_the_programme_page(client, auth, en):
    programme, _award, _listing, _member, official, _community = open_programme()
    evaluator = factories.user(Role.EVALUATOR)
    auth.login(official)
    page = client.get(f"/official/programmes/{programme.id}")
    response = submit(client, page, f"form[action$='/official/programmes/{programme.id}/evaluators']",
                      phone=evaluator.phone)
    assert response.status_code == 302
    appointment = db.session.scalar(sa.select(EvaluatorAppointment).where(EvaluatorAppointment.user_id == evaluator.id))
    assert appointment.programme_id == programme.id and appointment.ended_at is None
    page = client.get(f"/official/programmes/{programme.id}")
    again = submit(client, page, f"form[action$='/official/programmes/{programme.id}/evaluators']",
                   phone=evaluator.phone)
    assert again.status_code == 409 and "already appointed" in again.get_data(as_text=True)
    ended = submit(client, page, f"form[action$='/evaluators/{appointment.id}/end']")
    assert ended.status_code == 302
    db.session.refresh(appointment)
    assert appointment.ended_at is not None
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "programme",
                                                                    AuditEvent.object_id == programme.id)).all()
    assert "programme.evaluator_appointed" in actions and "programme.evaluator_ended" in actions


def test_only_an_evaluator_account_can_be_appointed(client, auth, en):
    programme, _award, _listing, _member, official, _community = open_programme()
    auth.login(official)
    page = client.get(f"/official/programmes/{programme.id}")
    response = submit(client, page, f"form[action$='/official/programmes/{programme.id}/evaluators']",
                      phone=factories.resident().phone)
    assert response.status_code == 422
    assert 'id="evaluator-phone-error"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluatorAppointment)) == 0


def test_an_evaluator_is_no_official(client, auth):
    programme, _award, _listing, _member, official, _community = open_programme()
    auth.login(factories.user(Role.EVALUATOR))
    for url in ("/official/flags", f"/official/programmes/{programme.id}", "/official/providers"):
        assert client.get(url).status_code == 403, url
    assert client.get("/follow-ups").status_code == 200
