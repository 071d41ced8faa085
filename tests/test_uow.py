"""After-commit callbacks and the page unit of work."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import get_flashed_messages
from werkzeug.exceptions import NotFound as PageNotFound

from app.errors import Conflict, Invalid, LinliError, NotFound
from app.models import Community, CommunityTier
from app.uow import (
    FormRejected,
    abort_or_show,
    after_commit,
    apply_form_error,
    commit,
    form_action,
    run_after_commit,
)


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


# --- form_action: the page unit of work ------------------------------------------------

class Field:
    def __init__(self):
        self.errors: list[str] = []


class Form:
    """What form_action needs of a WTForms form: fields with an ``errors`` list."""

    def __init__(self, *names: str):
        for name in names:
            setattr(self, name, Field())


def page(status: int):
    return f"the page again, {status}", status


def add_community(code: str) -> None:
    from app.extensions import db

    db.session.add(Community(code=code, name=f"社区 {code}", district="淄川区", tier=CommunityTier.BASIC))
    db.session.flush()


def stored(db_session, code: str) -> bool:
    return db_session.scalar(sa.select(sa.func.count()).where(Community.code == code)) == 1


@pytest.fixture
def request_context(app):
    with app.test_request_context("/", method="POST"):
        yield


def test_form_action_commits_and_runs_the_after_commit_callbacks(db_session, request_context):
    ran = []
    with form_action(Form("name"), page):
        add_community("fa-ok")
        after_commit(db_session, lambda: ran.append("sent"))
    db_session.rollback()  # nothing left to lose: the block was committed
    assert stored(db_session, "fa-ok")
    assert ran == ["sent"]
    assert get_flashed_messages() == []


def test_refusal_rolls_back_and_shows_the_message_on_its_field(db_session, request_context):
    form = Form("name")
    ran = []
    with pytest.raises(FormRejected) as refused:
        with form_action(form, page):
            add_community("fa-refused")
            after_commit(db_session, lambda: ran.append("sent"))
            raise Conflict("That name is taken.", field="name")
    assert refused.value.response == ("the page again, 409", 409)
    assert form.name.errors == ["That name is taken."]
    assert get_flashed_messages() == []
    assert not stored(db_session, "fa-refused")
    commit(db_session)
    assert ran == [], "the refused block's callback is dropped"


def test_refusal_without_a_field_on_the_form_is_flashed(db_session, request_context):
    form = Form("name")
    with pytest.raises(FormRejected):
        with form_action(form, page):
            raise Invalid("Not now.", field="somewhere_else")
    with pytest.raises(FormRejected):
        with form_action(None, page):
            raise Invalid("Never on the form.", field="name")
    assert form.name.errors == []
    assert get_flashed_messages(with_categories=True) == [("error", "Not now."), ("error", "Never on the form.")]


def test_refusal_raised_by_the_commit_is_shown_like_one_from_the_block(db_session, request_context):
    form = Form("name")

    def refuse_commit(session):
        raise Invalid("Refused at commit.", field="name")

    sa.event.listen(db_session(), "before_commit", refuse_commit, once=True)
    with pytest.raises(FormRejected) as refused:
        with form_action(form, page):
            add_community("fa-at-commit")
    assert refused.value.response[1] == 422
    assert form.name.errors == ["Refused at commit."]
    assert not stored(db_session, "fa-at-commit")


def test_aliases_put_a_service_field_on_the_form_field(request_context):
    form = Form("amount")
    with pytest.raises(FormRejected):
        with form_action(form, page, aliases={"amount_fen": "amount"}):
            raise Invalid("Too much.", field="amount_fen")
    assert form.amount.errors == ["Too much."]
    apply_form_error(form, Invalid("Again.", field="amount"), {"amount_fen": "amount"})
    assert form.amount.errors == ["Too much.", "Again."]


def test_show_replaces_the_default_display(request_context):
    form = Form("name")
    shown: list[LinliError] = []
    with pytest.raises(FormRejected):
        with form_action(form, page, show=shown.append):
            raise Invalid("Mine to show.", field="name")
    assert [str(error) for error in shown] == ["Mine to show."]
    assert form.name.errors == []
    assert get_flashed_messages() == []


def test_reraise_rolls_back_and_lets_the_error_page_answer(db_session, request_context):
    form = Form("name")
    rendered = []
    with pytest.raises(NotFound):
        with form_action(form, lambda status: rendered.append(status), reraise=(404,)):
            add_community("fa-404")
            raise NotFound("No such rating.", field="name")
    assert rendered == [] and form.name.errors == [] and get_flashed_messages() == []
    assert not stored(db_session, "fa-404")
    with pytest.raises(FormRejected):  # other statuses are still the form's
        with form_action(form, page, reraise=(404,)):
            raise Conflict("Already done.", field="name")
    assert form.name.errors == ["Already done."]


def test_abort_or_show_answers_the_plain_page_for_its_statuses(request_context):
    form = Form("name")
    with pytest.raises(PageNotFound):
        with form_action(form, page, show=abort_or_show(form, 404)):
            raise NotFound("No such report.")
    assert get_flashed_messages() == [], "nothing flashed for the next page"
    with pytest.raises(FormRejected):
        with form_action(form, page, show=abort_or_show(form, 404, aliases={"x_fen": "name"})):
            raise Invalid("Bad.", field="x_fen")
    assert form.name.errors == ["Bad."]


def test_keep_commits_what_the_block_wrote_before_the_refusal(db_session, request_context):
    form = Form("password")
    with pytest.raises(FormRejected) as refused:
        with form_action(form, page, keep=Invalid):
            add_community("fa-kept")
            raise Invalid("Wrong password.", field="password")
    assert refused.value.response[1] == 422
    assert form.password.errors == ["Wrong password."]
    db_session.rollback()
    assert stored(db_session, "fa-kept")
    with pytest.raises(FormRejected) as refused:  # any other refusal is rolled back
        with form_action(form, page, keep=Invalid):
            add_community("fa-not-kept")
            raise Conflict("Too many.")
    assert refused.value.response[1] == 409
    assert not stored(db_session, "fa-not-kept")


def test_on_failure_runs_after_the_rollback_for_refusals_and_other_errors(db_session, request_context):
    seen = []

    def cleanup():
        seen.append(db_session().in_transaction() and bool(db_session.new))

    with pytest.raises(FormRejected):
        with form_action(Form(), page, on_failure=cleanup):
            add_community("fa-files")
            raise Invalid("Not a PNG.")
    with pytest.raises(RuntimeError):
        with form_action(Form(), page, on_failure=cleanup):
            add_community("fa-crash")
            raise RuntimeError("disk full")
    assert seen == [False, False], "called twice, each time with nothing pending"
    assert not stored(db_session, "fa-files") and not stored(db_session, "fa-crash")
    with form_action(Form(), page, on_failure=cleanup):
        pass
    assert len(seen) == 2, "not called on success"


def test_other_errors_roll_back_and_propagate(db_session, request_context):
    with pytest.raises(ZeroDivisionError):
        with form_action(Form("name"), page):
            add_community("fa-bug")
            1 / 0  # noqa: B018
    assert not stored(db_session, "fa-bug")
    assert get_flashed_messages() == []


def test_the_app_answers_a_rejected_form_with_its_page(app):
    with app.test_request_context("/", method="POST"):
        response = app.handle_user_exception(FormRejected(("<p>refused</p>", 409)))
    assert response.status_code == 409
    assert response.get_data(as_text=True) == "<p>refused</p>"
