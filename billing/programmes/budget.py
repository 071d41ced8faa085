"""A programme's budget for officials: committed, reserved, consumed, remaining; a chart; a projection.

Figures come from the ledger (one definition each):

- committed = the budget posted when the programme opened, plus its top-ups (topups.py);
- reserved  = balance of ``programme_reserved:<id>`` (accepted visits not yet served);
- consumed  = served visits at the contract price, less performance deductions
  (credits to ``programme_consumed:<id>`` minus deductions returned to the budget);
- remaining = balance of ``programme_budget:<id>``;

and committed = reserved + consumed + remaining always; "spent" on the chart is
reserved + consumed (what the budget no longer has for new visits).

The projection (:func:`project`, the one home of the rule) averages the money
taken from the budget over the last 8 weeks, or since the programme opened when
that is shorter, and divides what remains by it: nothing spent yet is "no
projection yet"; spending that stopped (nothing in the window) has no run-out
date.  The chart (:func:`chart_series`, :func:`chart_svg`) shows committed,
spent and remaining at the end of each week (each month for a term over 400
days) across the programme's term, drawn on the server as SVG with presentation
attributes only (the site's CSP allows no inline style or script).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from app.clock import local, today
from billing import ledger
from billing.models import Account, LedgerEntry, LedgerTransaction
from billing.programmes.models import PurchaseProgramme
from billing.programmes.programmes import budget_code, reserved_code

BURN_WINDOW_WEEKS = 8
MONTHLY_AFTER_DAYS = 400  # a term longer than this is charted month by month, else week by week
HORIZON_DAYS = 36_500  # a run-out date further than 100 years away is no date at all

NONE, STEADY, STOPPED, USED_UP, SLOW = "none", "steady", "stopped", "used_up", "slow"


@dataclass(frozen=True)
class Projection:
    """When the remaining budget runs out at the recent rate of spending.

    ``state``: ``none`` (nothing spent yet: no projection), ``steady`` (a date),
    ``stopped`` (spending before, none in the window: no date), ``used_up``
    (nothing remains), ``slow`` (a date more than a century away)."""

    state: str
    window_start: date | None = None
    window_days: int = 0
    since_opening: bool = False  # the window is shorter than 8 weeks: since the programme opened
    spent_in_window: int = 0
    per_day: float = 0.0
    runs_out_on: date | None = None

    @property
    def window_weeks(self) -> int:
        return BURN_WINDOW_WEEKS

    @property
    def per_week_fen(self) -> int:
        return round(self.per_day * 7)


def project(spent_by_day: Mapping[date, int], remaining: int, *, on: date, opened_on: date | None,
            window_weeks: int = BURN_WINDOW_WEEKS) -> Projection:
    """The projection on day ``on`` from the money taken from the budget per day (net of
    releases and deductions) and what remains.  The window is the last ``window_weeks``
    weeks up to ``on``, or since ``opened_on`` when the programme is younger."""
    if opened_on is None or sum(spent_by_day.values()) <= 0:
        return Projection(NONE)
    start = max(opened_on, on - timedelta(days=7 * window_weeks - 1))
    days = max((on - start).days + 1, 1)
    recent = sum(amount for day, amount in spent_by_day.items() if start <= day <= on)
    base = dict(window_start=start, window_days=days, since_opening=start == opened_on and days < 7 * window_weeks,
                spent_in_window=max(recent, 0))
    if remaining <= 0:
        return Projection(USED_UP, **base, per_day=max(recent, 0) / days, runs_out_on=on)
    if recent <= 0:
        return Projection(STOPPED, **base)
    per_day = recent / days
    days_left = math.ceil(remaining / per_day)
    if days_left > HORIZON_DAYS:
        return Projection(SLOW, **base, per_day=per_day)
    return Projection(STEADY, **base, per_day=per_day, runs_out_on=on + timedelta(days=days_left))


@dataclass
class BudgetFigures:
    committed: int
    reserved: int
    consumed: int
    remaining: int
    burn_per_day: int | None  # fen per day over the projection's window, None without a rate
    runs_out_on: date | None
    runs_out_before_end: bool
    projection: Projection | None = None


def _entries(session: Session, code: str, kinds: tuple[str, ...] | None = None):
    stmt = (sa.select(LedgerTransaction.at, LedgerTransaction.kind, LedgerEntry.amount_fen)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .where(Account.code == code).order_by(LedgerTransaction.at, LedgerTransaction.id))
    if kinds:
        stmt = stmt.where(LedgerTransaction.kind.in_(kinds))
    return session.execute(stmt).all()


def figures(session: Session, programme: PurchaseProgramme) -> BudgetFigures:
    pid = programme.id
    committed = -sum(a for _at, _k, a in _entries(session, budget_code(pid), ("programme_budget",)))
    remaining = -ledger.balance(session, budget_code(pid))
    reserved = -ledger.balance(session, reserved_code(pid))
    consumed = committed - remaining - reserved
    opened_on = local(programme.opened_at).date() if programme.opened_at else None
    projection = project(_spending_by_day(session, programme), remaining, on=today(), opened_on=opened_on)
    burn = round(projection.per_day) if projection.per_day > 0 else None
    runs_out = projection.runs_out_on if projection.state == STEADY else None
    return BudgetFigures(committed, reserved, consumed, remaining, burn, runs_out,
                         runs_out is not None and runs_out < programme.end_date, projection)


def _spending_by_day(session: Session, programme: PurchaseProgramme) -> dict[date, int]:
    """Money taken from the budget per local day (reservations less releases and deductions)."""
    by_day: dict[date, int] = {}
    for at, kind, amount in _entries(session, budget_code(programme.id)):
        if kind == "programme_budget":
            continue
        day = local(at).date()
        by_day[day] = by_day.get(day, 0) + amount  # a debit (positive) takes money from the budget
    return by_day


def series(session: Session, programme: PurchaseProgramme) -> list[tuple[date, int, int]]:
    """Per day from opening to today: (day, remaining, used = reserved + consumed)."""
    if programme.opened_at is None:
        return []
    first = local(programme.opened_at).date()
    last = max(first, min(today(), programme.end_date))
    spent = _spending_by_day(session, programme)
    committed_by_day: dict[date, int] = {}  # the opening budget and any top-ups, on their day
    for at, _kind, amount in _entries(session, budget_code(programme.id), ("programme_budget",)):
        day = max(first, local(at).date())
        committed_by_day[day] = committed_by_day.get(day, 0) - amount
    points, used, committed = [], 0, 0
    day = first
    while day <= last:
        used += spent.get(day, 0)
        committed += committed_by_day.get(day, 0)
        points.append((day, committed - used, used))
        day += timedelta(days=1)
    return points


@dataclass(frozen=True)
class ChartPoint:
    """The budget at the end of one week or month (or at the last day charted, for the current one)."""

    start: date  # the first day of the week (Monday) or month
    day: date  # the day the figures are taken at
    committed: int
    spent: int
    remaining: int


@dataclass(frozen=True)
class Chart:
    unit: str  # "week" or "month"
    first: date  # the x axis: the programme's whole term
    last: date
    opened_on: date | None
    points: list[ChartPoint]
    projection: Projection | None = None


def _period_start(day: date, unit: str) -> date:
    return day.replace(day=1) if unit == "month" else day - timedelta(days=day.weekday())


def chart_series(session: Session, programme: PurchaseProgramme, projection: Projection | None = None) -> Chart:
    """Committed, spent and remaining at the end of each week (or month) from the opening to today."""
    unit = "month" if (programme.end_date - programme.start_date).days > MONTHLY_AFTER_DAYS else "week"
    daily = series(session, programme)
    opened_on = daily[0][0] if daily else None
    first = min(programme.start_date, opened_on or programme.start_date)
    points: dict[date, ChartPoint] = {}
    for day, remaining, used in daily:  # the last day of each period overwrites the earlier ones
        start = _period_start(day, unit)
        points[start] = ChartPoint(start, day, remaining + used, used, remaining)
    ordered = sorted(points.values(), key=lambda p: p.start)
    if daily and ordered and ordered[0].day != daily[0][0]:  # start the lines at the opening
        day, remaining, used = daily[0]
        ordered.insert(0, ChartPoint(_period_start(day, unit), day, remaining + used, used, remaining))
    return Chart(unit, first, max(programme.end_date, first), opened_on, ordered, projection)


def _nice_step(top: int, ticks: int = 4) -> int:
    raw = max(top / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return int(factor * power)
    return int(10 * power)


def _yuan_tick(fen: int) -> str:
    return f"¥{fen / 100:,.0f}"


COLOURS = {"committed": "#1f4e8c", "spent": "#b3261e", "remaining": "#1a7f37", "projection": "#1a7f37"}
DASHES = {"committed": "2 4", "spent": "8 4", "remaining": None, "projection": "3 3"}


def swatch(name: str) -> Markup:
    """A legend's sample of a line: the same colour and dash as on the chart."""
    dash = f' stroke-dasharray="{DASHES[name]}"' if DASHES[name] else ""
    return Markup(f'<svg class="swatch" width="32" height="12" viewBox="0 0 32 12" aria-hidden="true" '
                  f'focusable="false"><line x1="1" y1="6" x2="31" y2="6" stroke="{COLOURS[name]}" '
                  f'stroke-width="3"{dash}/></svg>')


def chart_svg(chart: Chart, *, title: str, description: str, today_label: str, width: int = 480,
              height: int = 280) -> Markup:
    """The chart as inline SVG: axes with yuan and month labels, a line per series with a
    marker at each point, a mark for today and the projection of what remains; a
    ``<title>`` and ``<desc>`` for screen readers (the page's table has the same figures)."""
    if not chart.points:
        return Markup("")
    pad_l, pad_r, pad_t, pad_b = 76, 18, 14, 46
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    top_value = max(p.committed for p in chart.points) or 1
    step = _nice_step(top_value)
    top = step * math.ceil(top_value / step)
    span = max((chart.last - chart.first).days, 1)
    base = pad_t + plot_h

    def x(day: date) -> float:
        return pad_l + plot_w * min(max((day - chart.first).days, 0), span) / span

    def y(value: int) -> float:
        return pad_t + plot_h * (1 - max(min(value, top), 0) / top)

    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
             f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" '
             f'aria-labelledby="budget-chart-title budget-chart-desc" font-size="16" fill="currentColor">',
             f'<title id="budget-chart-title">{escape(title)}</title>',
             f'<desc id="budget-chart-desc">{escape(description)}</desc>']
    for i in range(0, top // step + 1):  # the y axis: yuan, with light grid lines
        value = i * step
        parts.append(f'<line x1="{pad_l}" y1="{y(value):.1f}" x2="{width - pad_r}" y2="{y(value):.1f}" '
                     f'stroke="#c8c8c8" stroke-width="1"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{_yuan_tick(value)}</text>')
    months = []  # the x axis: the first of each month in the term, at most 5 labelled
    month = chart.first.replace(day=1)
    while month <= chart.last:
        if month >= chart.first:
            months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    every = max(1, math.ceil(len(months) / 5))
    for i, month in enumerate(months):
        parts.append(f'<line x1="{x(month):.1f}" y1="{base}" x2="{x(month):.1f}" y2="{base + 5}" stroke="#5f6368"/>')
        if i % every == 0:
            parts.append(f'<text x="{x(month):.1f}" y="{base + 19}" text-anchor="middle">'
                         f'{month.strftime("%Y-%m")}</text>')
    parts.append(f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{base}" stroke="#5f6368"/>')
    parts.append(f'<line x1="{pad_l}" y1="{base}" x2="{width - pad_r}" y2="{base}" stroke="#5f6368"/>')
    last = chart.points[-1]
    parts.append(f'<line id="chart-today" x1="{x(last.day):.1f}" y1="{pad_t}" x2="{x(last.day):.1f}" y2="{base}" '
                 f'stroke="#5f6368" stroke-dasharray="1 3"/>')
    parts.append(f'<text x="{min(x(last.day), width - pad_r - 2):.1f}" y="{base + 38}" '
                 f'text-anchor="{"end" if x(last.day) > width - 80 else "middle"}">{escape(today_label)}</text>')
    projection = chart.projection
    if projection is not None and projection.state == STEADY and projection.runs_out_on:
        end = min(projection.runs_out_on, chart.last)
        share = (end - last.day).days / max((projection.runs_out_on - last.day).days, 1)
        value = round(last.remaining * (1 - share))
        parts.append(f'<line id="line-projection" x1="{x(last.day):.1f}" y1="{y(last.remaining):.1f}" '
                     f'x2="{x(end):.1f}" y2="{y(value):.1f}" stroke="{COLOURS["projection"]}" stroke-width="2" '
                     f'stroke-dasharray="{DASHES["projection"]}"/>')
    for name in ("committed", "spent", "remaining"):
        coords = " ".join(f"{x(p.day):.1f},{y(getattr(p, name)):.1f}" for p in chart.points)
        dash = f' stroke-dasharray="{DASHES[name]}"' if DASHES[name] else ""
        parts.append(f'<polyline id="line-{name}" class="series" fill="none" stroke="{COLOURS[name]}" '
                     f'stroke-width="{3 if name == "remaining" else 2.5}"{dash} points="{coords}"/>')
        for p in chart.points:
            parts.append(f'<circle cx="{x(p.day):.1f}" cy="{y(getattr(p, name)):.1f}" r="3" '
                         f'fill="{COLOURS[name]}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))

