"""A programme's budget for officials: committed, reserved, consumed, remaining; a chart; a projection.

Figures come from the ledger (one definition each):

- committed = the budget posted when the programme opened, plus its top-ups (topups.py);
- reserved  = balance of ``programme_reserved:<id>`` (accepted visits not yet served);
- consumed  = served visits at the contract price, less performance deductions
  (credits to ``programme_consumed:<id>`` minus deductions returned to the budget);
- remaining = balance of ``programme_budget:<id>``;

and committed = reserved + consumed + remaining always.  The burn rate is the
money reserved or consumed over the last 30 days (or since opening, if
shorter) per day; the projection divides what remains by it.
"""

from __future__ import annotations

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

BURN_WINDOW_DAYS = 30


@dataclass
class BudgetFigures:
    committed: int
    reserved: int
    consumed: int
    remaining: int
    burn_per_day: int | None  # fen per day, None before any spending
    runs_out_on: date | None
    runs_out_before_end: bool


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
    spent = _spending_by_day(session, programme)
    start = max(programme.opened_at and local(programme.opened_at).date() or today(),
                today() - timedelta(days=BURN_WINDOW_DAYS - 1))
    days = (today() - start).days + 1
    recent = sum(amount for day, amount in spent.items() if day >= start)
    burn = round(recent / days) if recent > 0 else None
    runs_out = None
    if burn:
        runs_out = today() + timedelta(days=remaining // burn)
    return BudgetFigures(committed, reserved, consumed, remaining, burn, runs_out,
                         runs_out is not None and runs_out < programme.end_date)


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


def chart_svg(points: list[tuple[date, int, int]], *, width: int = 640, height: int = 240,
              labels: tuple[str, str] = ("Remaining", "Reserved or consumed")) -> Markup:
    """An inline SVG line chart (no script, no external asset)."""
    if not points:
        return Markup("")
    pad_l, pad_r, pad_t, pad_b = 56, 12, 12, 36
    top = max(max(p[1] + p[2] for p in points), 1)  # remaining + used = the committed budget
    n = max(len(points) - 1, 1)

    def xy(i: int, value: int) -> str:
        x = pad_l + (width - pad_l - pad_r) * i / n
        y = pad_t + (height - pad_t - pad_b) * (1 - value / top)
        return f"{x:.1f},{y:.1f}"

    remaining = " ".join(xy(i, p[1]) for i, p in enumerate(points))
    used = " ".join(xy(i, p[2]) for i, p in enumerate(points))
    yuan = f"{top / 100:,.0f}"
    first, last = points[0][0].isoformat(), points[-1][0].isoformat()
    base = height - pad_b
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(labels[0])} / {escape(labels[1])}">',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{base}" stroke="#888"/>',
        f'<line x1="{pad_l}" y1="{base}" x2="{width - pad_r}" y2="{base}" stroke="#888"/>',
        f'<text x="4" y="{pad_t + 10}" font-size="12">¥{yuan}</text>',
        f'<text x="4" y="{base}" font-size="12">¥0</text>',
        f'<text x="{pad_l}" y="{height - 8}" font-size="12">{first}</text>',
        f'<text x="{width - pad_r}" y="{height - 8}" font-size="12" text-anchor="end">{last}</text>',
        f'<polyline id="line-remaining" fill="none" stroke="#1a7f37" stroke-width="3" points="{remaining}"/>',
        f'<polyline id="line-used" fill="none" stroke="#b3261e" stroke-width="3" stroke-dasharray="6 4" '
        f'points="{used}"/>',
        "</svg>",
    ]
    return Markup("".join(parts))
