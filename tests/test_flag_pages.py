"""Officials' flag pages: open flags by rule and provider with their evidence in words,
a link to the visit, clearing with a reason (audited), and a constant number of queries."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from providers.visits import flags
from providers.visits.models import FlagRule, VisitFlag
from tests import factories
from tests.flag_helpers import booked, close_visit
from tests.rendered_forms import submit


@contextmanager
def counting_queries():
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def flagged_visit(provider=None, **kwargs):
    listing = factories.listing(provider) if provider else factories.listing()
    booking, _ = close_visit(booked(listing), **kwargs)
    return booking


def test_the_list_shows_each_flag_with_its_evidence_and_a_link_to_the_visit(client, auth, en):
    booking = flagged_visit(check_in=None)
    auth.login(factories.official())
    page = client.get("/official/flags").get_data(as_text=True)
    assert "No location was recorded at: check-in." in page
    assert f'href="/official/visits/{booking.id}"' in page
    assert booking.provider.name in page


def test_the_list_filters_by_rule_and_by_provider(client, auth, en):
    no_location = flagged_visit(check_in=None, verified_by=None)
    other = flagged_visit(distances=(900, 0))
    auth.login(factories.official())
    by_rule = client.get("/official/flags?rule=outside_radius").get_data(as_text=True)
    assert f"/official/visits/{other.id}" in by_rule and f"/official/visits/{no_location.id}" not in by_rule
    by_provider = client.get(f"/official/flags?provider={no_location.provider_id}").get_data(as_text=True)
    assert f"/official/visits/{no_location.id}" in by_provider and f"/official/visits/{other.id}" not in by_provider
    assert "Closed without the resident" in by_provider
    assert client.get("/official/flags?rule=nonsense").status_code == 404


def test_an_official_clears_a_flag_with_a_reason_through_the_rendered_form(client, auth, en):
    booking = flagged_visit(check_in=None)
    flag = db.session.scalar(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id))
    official = factories.official()
    auth.login(official)
    page = client.get("/official/flags")
    response = submit(client, page, f"#flag-{flag.id} form", **{f"flag-{flag.id}-reason": "电话核实，定位权限被关闭"})
    assert response.status_code == 302
    db.session.refresh(flag)
    assert flag.cleared_at is not None and flag.cleared_by_id == official.id
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "visit_flag.cleared"))
    assert event.object_id == flag.id and event.reason == "电话核实，定位权限被关闭"
    assert f"/official/visits/{booking.id}" not in client.get("/official/flags").get_data(as_text=True)


def test_clearing_without_a_reason_shows_the_message_beside_the_box_and_changes_nothing(client, auth, en):
    booking = flagged_visit(check_in=None)
    flag = db.session.scalar(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id))
    auth.login(factories.official())
    page = client.get("/official/flags")
    response = submit(client, page, f"#flag-{flag.id} form", **{f"flag-{flag.id}-reason": "  "})
    assert response.status_code == 422
    assert f'id="flag-{flag.id}-reason-error"' in response.get_data(as_text=True)
    db.session.refresh(flag)
    assert flag.cleared_at is None


def test_a_flag_is_cleared_once_and_only_by_an_official():
    booking = flagged_visit(check_in=None)
    flag = db.session.scalar(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id))
    with pytest.raises(Forbidden):
        flags.clear_flag(db.session, flag, factories.staff(booking.provider), "我们的")
    with pytest.raises(Invalid) as missing:
        flags.clear_flag(db.session, flag, factories.official(), "")
    assert missing.value.field == "reason"
    flags.clear_flag(db.session, flag, factories.official(), "已核实")
    with pytest.raises(Conflict):
        flags.clear_flag(db.session, flag, factories.official(), "再次")


def test_the_list_runs_the_same_queries_for_two_or_ten_flags(client, auth):
    auth.login(factories.official())
    provider = factories.provider()

    def queries() -> int:
        with counting_queries() as statements:
            assert client.get("/official/flags").status_code == 200
        return len(statements)

    for _ in range(2):
        flagged_visit(provider, check_in=None)
    queries()  # the first page after logging in loads the shell's own rows once
    few = queries()
    for _ in range(8):
        flagged_visit(check_in=None, verified_by=None)
    assert queries() == few


def test_the_list_is_paginated(client, auth, en, monkeypatch):
    for _ in range(3):
        flagged_visit(check_in=None, verified_by=None)  # two flags each: six
    auth.login(factories.official())
    monkeypatch.setattr("providers.visits.flag_views.PAGE_SIZE", 4)
    first = client.get("/official/flags").get_data(as_text=True)
    second = client.get("/official/flags?page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first and first.count('class="card stack" id="flag-') == 4
    assert second.count('class="card stack" id="flag-') == 2


def test_residents_and_providers_cannot_see_the_flags(client, auth):
    flagged_visit(check_in=None)
    auth.login(factories.resident())
    assert client.get("/official/flags").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitFlag).where(
        VisitFlag.rule == FlagRule.NO_LOCATION)) == 1
