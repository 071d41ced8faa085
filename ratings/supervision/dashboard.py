"""The officials' supervision dashboard: reports by status, sanctions over time,
providers by grade — figures from the database, charts drawn here as inline SVG
(no script, no CDN; presentation attributes only, so the page's CSP holds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from app.clock import local, now
from ratings.supervision.league import GRADE_ORDER, latest_run
from ratings.supervision.models import (
    GRADE_LABELS,
    LADDER,
    REPORT_STATUS_LABELS,
    SANCTION_LABELS,
    PenaltyReport,
    ReportStatus,
)
from ratings.supervision.sanction_models import PenaltyReview

SANCTION_COLOURS = {"warning": "#c28a00", "fine": "#d9622b", "suspension": "#b0303a", "removal": "#5a1a6e"}
BAR_COLOUR = "#2b6cb0"


@dataclass
class Dashboard:
    by_status: list[tuple[str, int]]
    months: list[str]
    sanctions: dict[str, list[int]]
    by_grade: list[tuple[str, int]]


def reports_by_status(session: Session) -> list[tuple[str, int]]:
    counts = dict(session.execute(sa.select(PenaltyReport.status, sa.func.count()).group_by(PenaltyReport.status)).all())
    return [(str(REPORT_STATUS_LABELS[s]), int(counts.get(s, 0))) for s in ReportStatus]


def last_months(n: int = 12) -> list[date]:
    today = local(now()).date().replace(day=1)
    months = []
    for _ in range(n):
        months.append(today)
        today = (today - timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def sanctions_by_month(session: Session, n: int = 12) -> tuple[list[str], dict[str, list[int]]]:
    """Sanctions that took effect per local month (the last ``n``), by kind."""
    months = last_months(n)
    index = {(m.year, m.month): i for i, m in enumerate(months)}
    series = {s.value: [0] * n for s in LADDER}
    rows = session.execute(sa.select(PenaltyReview.effective_at, PenaltyReview.sanction)
                           .where(PenaltyReview.effective_at.is_not(None))).all()
    for at, sanction in rows:
        day = local(at).date()
        i = index.get((day.year, day.month))
        if i is not None:
            series[sanction.value][i] += 1
    return [m.strftime("%Y-%m") for m in months], series


def providers_by_grade(session: Session) -> list[tuple[str, int]]:
    run = latest_run(session)
    counts = (run.grade_counts or {}) if run else {}
    return [(str(GRADE_LABELS[g]), int(counts.get(g.value, 0))) for g in GRADE_ORDER]


def dashboard(session: Session) -> Dashboard:
    months, series = sanctions_by_month(session)
    return Dashboard(reports_by_status(session), months, series, providers_by_grade(session))


# --- Charts ----------------------------------------------------------------------------


# The charts are drawn at their own size in pixels (never scaled down to a phone's width, which
# made their text about 8 px): every text is FONT px; a chart wider than the screen scrolls
# sideways in its box (dashboard.html), with the figures as a table below.
FONT = 14


def _svg_open(title: str, width: int, height: int) -> str:
    return (f'<svg class="chart-fixed" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')


def bar_chart(rows: list[tuple[str, int]], *, title: str, colour: str = BAR_COLOUR) -> Markup:
    """Horizontal bars, one per row, each labelled with its value; 340 px wide, so it fits
    a phone at its own size."""
    label_w, bar_w, row_h = 150, 150, 28
    height = row_h * len(rows) + 10
    top = max([v for _, v in rows] + [1])
    parts = [_svg_open(title, label_w + bar_w + 40, height)]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * row_h
        w = round(bar_w * value / top)
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" font-size="{FONT}" fill="#222">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 18}" font-size="{FONT}" fill="#222">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_chart(months: list[str], series: dict[str, list[int]], *, title: str) -> Markup:
    """Vertical stacked bars per month, one colour per sanction, with a legend."""
    n = len(months)
    col_w, chart_h, left, top_pad = 44, 180, 30, 10
    width = left + col_w * n + 10
    top = max([sum(series[k][i] for k in series) for i in range(n)] + [1])
    # The legend is one column at the left edge: on a phone it shows before any scrolling.
    parts = [_svg_open(title, width, top_pad + chart_h + 30 + len(series) * 22)]
    base = top_pad + chart_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#888"/>')
    parts.append(f'<text x="{left - 4}" y="{top_pad + 10}" text-anchor="end" font-size="{FONT}" fill="#222">{top}</text>')
    for i, month in enumerate(months):
        x = left + i * col_w + 6
        y = base
        for key, values in series.items():
            h = round(chart_h * values[i] / top)
            if h:
                y -= h
                parts.append(f'<rect x="{x}" y="{y}" width="{col_w - 12}" height="{h}" '
                             f'fill="{SANCTION_COLOURS.get(key, BAR_COLOUR)}"><title>{escape(month)} '
                             f'{escape(str(SANCTION_LABELS.get(key, key)))}: {values[i]}</title></rect>')
        parts.append(f'<text x="{x + (col_w - 12) / 2}" y="{base + 16}" text-anchor="middle" font-size="{FONT}" '
                     f'fill="#222">{escape(month[2:])}</text>')
    for j, key in enumerate(series):
        lx = left
        ly = base + 44 + j * 22
        parts.append(f'<rect x="{lx}" y="{ly - 11}" width="12" height="12" fill="{SANCTION_COLOURS.get(key, BAR_COLOUR)}"/>')
        parts.append(f'<text x="{lx + 18}" y="{ly}" font-size="{FONT}" fill="#222">'
                     f'{escape(str(SANCTION_LABELS.get(key, key)))}: {sum(series[key])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
