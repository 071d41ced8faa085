"""The scheduler closes open programmes whose term is over (Asia/Shanghai days), once."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import force_locale

from app.audit import AuditEvent
from app.clock import zone
from app.extensions import db
from app.notifications import Notification
from app.scheduler import build_scheduler, registered_jobs
from billing.programmes import programmes
from billing.programmes.jobs import close_ended_programmes
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme
from tests import factories
from tests.programme_helpers import open_programme, terms


def _ending(end: date):
    programme, award, listing, member, official, community = open_programme()
    programme.end_date = end
    db.session.commit()
    return programme, member, official


def _notifications(kind="programme.closed_at_term_end"):
    return list(db.session.scalars(sa.select(Notification).where(Notification.kind == kind)
                                   .order_by(Notification.user_id)))


def test_the_job_is_registered_with_the_scheduler(app):
    assert close_ended_programmes in [job for job, _trigger in registered_jobs()]
    assert "close_ended_programmes" in {job.id for job in build_scheduler(app).get_jobs()}


def test_the_term_ends_at_the_end_of_its_last_local_day(clock):
    programme, member, official = _ending(date(2026, 11, 30))
    clock.set(datetime(2026, 11, 30, 23, 59, tzinfo=zone()))  # 15:59 UTC: still the last day in Shanghai
    assert close_ended_programmes(db.session) == 0
    db.session.commit()
    assert db.session.get(PurchaseProgramme, programme.id).status == ProgrammeStatus.OPEN
    clock.set(datetime(2026, 12, 1, 0, 5, tzinfo=zone()))  # 16:05 UTC on 30 November: the 1st in Shanghai
    assert close_ended_programmes(db.session) == 1
    db.session.commit()
    db.session.expire_all()
    closed = db.session.get(PurchaseProgramme, programme.id)
    assert closed.status == ProgrammeStatus.CLOSED and closed.closed_at is not None


def test_closing_is_audited_as_the_system_and_notifies_awardees_and_officials_once(clock):
    programme, member, official = _ending(date(2026, 11, 30))
    other_official = factories.official()
    bystander = factories.staff(factories.provider())
    unaffected, *_ = open_programme()  # its term runs to 2027-10-31
    draft = programmes.create_programme(db.session, official, terms([factories.community().id],
                                                                     end_date=date(2026, 11, 15)))
    db.session.commit()
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=zone()))
    assert close_ended_programmes(db.session) == 1
    db.session.commit()
    events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "programme",
                                                                  AuditEvent.object_id == programme.id,
                                                                  AuditEvent.action == "programme.closed")))
    assert len(events) == 1 and events[0].actor_id is None
    assert events[0].before == {"status": "open"} and events[0].after == {"status": "closed"}
    assert "2026-11-30" in events[0].reason
    told = {(n.user_id, n.link) for n in _notifications()}
    assert (member.id, "/provider/programmes") in told
    assert (official.id, f"/official/programmes/{programme.id}") in told
    assert (other_official.id, f"/official/programmes/{programme.id}") in told
    assert bystander.id not in {user_id for user_id, _link in told}
    assert all(n.params == {"title": programme.title, "end": "2026-11-30"} for n in _notifications())
    with force_locale("en"):
        assert f"{programme.title} is closed: its term ended on 2026-11-30" in _notifications()[0].message
    # Idempotent: a second run closes nothing, writes nothing.
    count = len(_notifications())
    assert close_ended_programmes(db.session) == 0
    db.session.commit()
    assert len(_notifications()) == count
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "programme.closed")) == 1
    assert db.session.get(PurchaseProgramme, unaffected.id).status == ProgrammeStatus.OPEN
    assert db.session.get(PurchaseProgramme, draft.id).status == ProgrammeStatus.DRAFT  # drafts are not closed


def test_a_programme_an_official_closed_meanwhile_is_left_alone(clock):
    programme, member, official = _ending(date(2026, 11, 30))
    programmes.close_programme(db.session, programme, official, "提前结束")
    db.session.commit()
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=zone()))
    assert close_ended_programmes(db.session) == 0
    db.session.commit()
    assert _notifications() == []


def test_the_scheduler_once_runs_it(app, clock):
    programme, member, official = _ending(date(2026, 11, 30))
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=zone()))
    result = app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "close_ended_programmes: 1" in result.output
    db.session.expire_all()
    assert db.session.get(PurchaseProgramme, programme.id).status == ProgrammeStatus.CLOSED
