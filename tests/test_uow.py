"""After-commit callbacks and the page unit of work."""

from __future__ import annotations

from app.uow import after_commit, commit, run_after_commit


def test_callback_runs_after_commit_not_before(db_session):
    ran = []
    after_commit(db_session, lambda: ran.append("sent"))
    assert ran == []
    commit(db_session)
    assert ran == ["sent"]
    commit(db_session)
    assert ran == ["sent"], "a callback runs once"


def test_callback_dropped_on_rollback(db_session):
    ran = []
    after_commit(db_session, lambda: ran.append("sent"))
    db_session.rollback()
    commit(db_session)
    assert ran == []


def test_savepoint_rollback_keeps_the_outer_callbacks(db_session):
    ran = []
    after_commit(db_session, lambda: ran.append("outer"))
    nested = db_session.begin_nested()
    nested.rollback()
    commit(db_session)
    assert ran == ["outer"]


def test_failing_callback_does_not_stop_the_others(db_session, caplog):
    ran = []

    def broken():
        raise RuntimeError("gateway down")

    after_commit(db_session, broken)
    after_commit(db_session, lambda: ran.append("second"))
    db_session.commit()
    assert run_after_commit(db_session) == 2
    assert ran == ["second"]
    assert "gateway down" in caplog.text
