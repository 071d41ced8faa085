"""The programme budget page: the projection rule (one function), the chart of each week over
the term, its legend and the table of the same figures, all without inline style or script."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from app.extensions import db
from billing.programmes import budget, entitlements
from billing.programmes.budget import NONE, SLOW, STEADY, STOPPED, USED_UP, project
from providers.bookings import services
from tests import factories
from tests.carer_helpers import carer_for
from tests.programme_helpers import enrolled_resident, open_programme

pytestmark = pytest.mark.usefixtures("english_messages")

ON = date(2027, 1, 27)


def test_a_new_programme_has_no_projection_yet():
    assert project({}, 100_000, on=ON, opened_on=ON - timedelta(days=3)).state == NONE
    assert project({}, 100_000, on=ON, opened_on=None).state == NONE
    # money reserved and released the same week is no spending either
    assert project({ON - timedelta(days=2): 6000, ON - timedelta(days=1): -6000}, 100_000, on=ON,
                   opened_on=ON - timedelta(days=9)).state == NONE


def test_a_steady_programme_runs_out_at_the_average_of_the_last_8_weeks():
    opened = ON - timedelta(weeks=20)
    weekly = {opened + timedelta(weeks=w): 7000 for w in range(21)}  # 7000 a week, 1000 a day
    weekly[opened] = 500_000  # a big first week, outside the 8-week window: not counted
    p = project(weekly, 70_000, on=ON, opened_on=opened)
    assert p.state == STEADY and not p.since_opening
    assert p.window_days == 56 and p.window_start == ON - timedelta(days=55)
    assert p.spent_in_window == 8 * 7000 and p.per_week_fen == 7000
    assert p.runs_out_on == ON + timedelta(days=70)


def test_a_young_programme_averages_since_it_opened():
    opened = ON - timedelta(days=13)
    p = project({opened: 14_000}, 28_000, on=ON, opened_on=opened)
    assert p.state == STEADY and p.since_opening and p.window_days == 14
    assert p.per_day == 1000 and p.runs_out_on == ON + timedelta(days=28)


def test_a_programme_whose_spending_stopped_has_no_run_out_date():
    opened = ON - timedelta(weeks=30)
    p = project({opened + timedelta(days=3): 40_000}, 60_000, on=ON, opened_on=opened)
    assert p.state == STOPPED and p.runs_out_on is None and p.spent_in_window == 0


def test_used_up_and_too_slow_to_matter():
    opened = ON - timedelta(days=20)
    assert project({opened: 60_000}, 0, on=ON, opened_on=opened).state == USED_UP
    slow = project({opened: 1}, 10_000_000_000, on=ON, opened_on=opened)
    assert slow.state == SLOW and slow.runs_out_on is None


def _reserve(clock, resident, listing, member):
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, 1), address="3号楼")
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()


def _ten_weeks_of_history(clock):
    """One visit reserved (6000) each week for ten weeks from the programme's opening."""
    programme, _award, listing, member, official, community = open_programme(budget_fen=200_000,
                                                                              contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    opened = clock.now()
    for week in range(10):
        clock.set(opened + timedelta(weeks=week))
        _reserve(clock, resident, listing, member)
    return programme, official


def test_the_page_draws_a_point_a_week_with_axes_legend_and_the_same_figures_in_a_table(clock, client, auth):
    programme, official = _ten_weeks_of_history(clock)
    figures = budget.figures(db.session, programme)
    assert figures.remaining == 140_000 and figures.projection.state == STEADY
    assert figures.projection.spent_in_window == 8 * 6000  # the last 8 weeks' visits, not the first two
    auth.login(official)
    response = client.get(f"/official/programmes/{programme.id}/budget")
    page = response.get_data(as_text=True)
    main = page.split("<main", 1)[1].split("</main>")[0]
    assert "style=" not in main and "<script" not in main
    svg = main[main.index("<svg class=\"chart\""):main.index("</svg>", main.index("<svg class=\"chart\""))]
    assert '<title id="budget-chart-title">Budget of' in svg and "week by week" in svg
    assert "remaining ¥1,400.00" in svg  # the <desc>
    for name in ("committed", "spent", "remaining"):
        points = re.search(rf'id="line-{name}"[^>]* points="([^"]+)"', svg).group(1).split()
        assert len(points) == 11  # the opening day, then the end of each of the ten weeks
    assert 'id="line-projection"' in svg
    assert "¥0</text>" in svg and "2026-11</text>" in svg  # y and x axis labels
    assert "At the average spending of the last 8 weeks, the budget runs out in" in main
    assert 'id="chart-legend"' in main and "Spent (reserved or consumed)" in main
    table = main[main.index('id="budget-table"'):main.index("</table>", main.index('id="budget-table"'))]
    assert table.count("<tr>") == 12  # the header and eleven rows
    assert "¥1,400.00" in table and "¥600.00" in table


def test_the_page_of_a_new_programme_says_no_projection_yet(clock, client, auth):
    programme, _award, _listing, _member, official, _community = open_programme()
    auth.login(official)
    page = client.get(f"/official/programmes/{programme.id}/budget").get_data(as_text=True)
    assert 'id="projection-none"' in page and "No projection yet" in page
    assert 'id="line-remaining"' in page  # a single point, still drawn (a marker)


def test_spending_that_stopped_is_said_so(clock, client, auth):
    programme, official = _ten_weeks_of_history(clock)
    clock.advance(weeks=9)
    auth.login(official)
    page = client.get(f"/official/programmes/{programme.id}/budget").get_data(as_text=True)
    assert "Nothing was spent in the last 8 weeks: no run-out date at this rate." in page
