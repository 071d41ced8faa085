"""Topping up an open programme's budget: through the ledger, audited, refused cleanly on bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.audit import AuditEvent
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from billing import ledger
from billing.models import LedgerTransaction
from billing.programmes import budget, programmes, topups
from billing.programmes.models import PurchaseProgramme
from billing.programmes.programmes import budget_code
from tests.forms import submit
from tests.programme_helpers import open_programme, terms


def _state(programme_id: int):
    """Everything a top-up may change: budget, ledger balance, top-up count, audit events."""
    db.session.expire_all()
    return (db.session.get(PurchaseProgramme, programme_id).budget_fen,
            ledger.balance(db.session, budget_code(programme_id)),
            len(topups.top_ups(db.session, programme_id)),
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "programme.budget_topped_up")))



def top_up(client, programme, fields, **kwargs):
    """The programme page's top-up form, as rendered."""
    return submit(client, f"/official/programmes/{programme.id}", id="topup-form", fields=fields, **kwargs)

def test_a_top_up_moves_money_like_the_opening_and_is_audited():
    programme, _award, _listing, _member, official, _community = open_programme(budget_fen=100_000)
    new_total = topups.top_up(db.session, programme, official, amount_fen=50_000, reason="追加财政预算")
    db.session.commit()
    assert new_total == 150_000 and programme.budget_fen == 150_000
    assert -ledger.balance(db.session, budget_code(programme.id)) == 150_000
    txn = topups.top_ups(db.session, programme.id)[0]
    lines = {entry.account.code: entry.amount_fen for entry in txn.entries}
    assert lines == {"programme_fund": 50_000, budget_code(programme.id): -50_000}
    assert txn.kind == "programme_budget" and txn.idempotency_key == f"programme:{programme.id}:topup:1"
    figures = budget.figures(db.session, programme)
    assert figures.committed == 150_000 and figures.remaining == 150_000
    assert figures.committed == figures.reserved + figures.consumed + figures.remaining
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "programme.budget_topped_up"))
    assert event.actor_id == official.id and event.reason == "追加财政预算"
    assert event.before == {"budget_fen": 100_000}
    assert event.after == {"budget_fen": 150_000, "amount_fen": 50_000}
    # A second top-up is a second transaction, not swallowed by the first's key.
    topups.top_up(db.session, programme, official, amount_fen=1, reason="再追加")
    db.session.commit()
    assert [t.idempotency_key for t in topups.top_ups(db.session, programme.id)][-1].endswith(":topup:2")
    assert -ledger.balance(db.session, budget_code(programme.id)) == 150_001
    assert ledger.is_balanced(db.session)


def test_the_chart_counts_a_top_up_from_its_day(clock):
    programme, _award, _listing, _member, official, _community = open_programme(budget_fen=100_000)
    clock.advance(days=2)
    topups.top_up(db.session, programme, official, amount_fen=20_000, reason="追加")
    db.session.commit()
    points = budget.series(db.session, programme)
    assert [p[1] for p in points] == [100_000, 100_000, 120_000]


@pytest.mark.parametrize(("amount", "message"), [
    (0, "more than zero"), (-500, "cannot be negative"), ("abc", "as a number"), (12.5, "as a number"),
    (None, "Enter the amount"), (True, "as a number"),
])
def test_bad_amounts_are_refused_with_a_specific_message_and_nothing_changes(amount, message):
    programme, _award, _listing, _member, official, _community = open_programme()
    before = _state(programme.id)
    with force_locale("en"), pytest.raises(Invalid, match=message) as refused:
        topups.top_up(db.session, programme, official, amount_fen=amount, reason="追加")
    db.session.rollback()
    assert refused.value.field == "amount_fen"
    assert _state(programme.id) == before


def test_a_reason_is_required_and_only_officials_top_up_an_open_programme():
    programme, _award, _listing, member, official, community = open_programme()
    before = _state(programme.id)
    with force_locale("en"), pytest.raises(Invalid, match="Say why") as refused:
        topups.top_up(db.session, programme, official, amount_fen=100, reason="  ")
    assert refused.value.field == "reason"
    with pytest.raises(Forbidden):
        topups.top_up(db.session, programme, member, amount_fen=100, reason="x")
    draft = programmes.create_programme(db.session, official, terms([community.id]))
    with force_locale("en"), pytest.raises(Conflict, match="Only an open programme"):
        topups.top_up(db.session, draft, official, amount_fen=100, reason="x")
    db.session.rollback()
    assert _state(programme.id) == before


def test_the_manage_page_tops_up_and_refuses_bad_input(client, auth, en):
    programme, _award, _listing, _member, official, _community = open_programme(budget_fen=100_000)
    auth.login(official)
    page = client.get(f"/official/programmes/{programme.id}").get_data(as_text=True)
    assert 'id="topup-form"' in page and "Top up the budget" in page
    before = _state(programme.id)
    for amount, message in [("0", "A top-up must add more than zero."),
                            ("-5", "A top-up cannot be negative"),
                            ("abc", "Enter an amount in yuan"),
                            ("", "Enter the amount to add to the budget.")]:
        refused = top_up(client, programme, {"amount": amount, "reason": "追加"})
        assert refused.status_code == 422, amount
        assert message in refused.get_data(as_text=True), amount
        assert _state(programme.id) == before
    no_reason = top_up(client, programme, {"amount": "500"})
    assert no_reason.status_code == 422 and "Say why the budget is topped up" in no_reason.get_data(as_text=True)
    assert 'value="500"' in no_reason.get_data(as_text=True)  # the input is kept
    assert _state(programme.id) == before
    ok = top_up(client, programme, {"amount": "¥500.50", "reason": "追加财政预算"}, follow_redirects=True)
    assert ok.status_code == 200 and "The budget is topped up" in ok.get_data(as_text=True)
    assert _state(programme.id)[:3] == (150_050, -150_050, 1)


def test_the_api_tops_up_and_answers_problems(client, auth, en):
    programme, _award, _listing, member, official, community = open_programme(budget_fen=100_000)
    url = f"/api/v1/official/programmes/{programme.id}/budget/top-ups"
    auth.login(official)
    before = _state(programme.id)
    for amount, message in [(0, "more than zero"), (-1, "cannot be negative"), ("5000", "as a number"),
                            (1.5, "as a number")]:
        refused = client.post(url, json={"amount_fen": amount, "reason": "追加"})
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
        assert message in refused.json["errors"]["amount_fen"][0]
    no_reason = client.post(url, json={"amount_fen": 100})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    assert _state(programme.id) == before
    ok = client.post(url, json={"amount_fen": 25_000, "reason": "追加"})
    assert ok.status_code == 201, ok.json
    assert ok.json["amount_fen"] == 25_000 and ok.json["programme"]["budget_fen"] == 125_000
    assert ok.json["budget"]["committed"] == 125_000 and ok.json["budget"]["remaining"] == 125_000
    draft = programmes.create_programme(db.session, official, terms([community.id]))
    db.session.commit()
    closed = client.post(f"/api/v1/official/programmes/{draft.id}/budget/top-ups", json={"amount_fen": 1, "reason": "x"})
    assert closed.status_code == 409
    auth.logout()
    auth.login(member)
    assert client.post(url, json={"amount_fen": 100, "reason": "x"}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)
                             .where(LedgerTransaction.idempotency_key.like(f"programme:{programme.id}:topup:%"))) == 1


def test_the_top_up_endpoint_is_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/official/programmes/{programme_id}/budget/top-ups"]["post"]
    assert {"201", "409", "422"} <= set(operation["responses"])
    assert "/api/v1/my/programme-awards" in spec["paths"]
