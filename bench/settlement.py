"""Time a monthly settlement of every provider against the plain SQL sum of the same rows.

    BENCH_DATABASE_URL=… .venv/bin/python -m bench.settlement      (after bench.generate)

The month is October 2026 (the generator's last full month: about a tenth of
the bookings, completed by almost every provider).  The settlement is what the
scheduler runs, :func:`billing.jobs.settle_month` — per provider, in a committed
transaction of its own: the settlement row, its lines, fee, payments, programme
uses, penalties, subsidies, the ledger postings and the payout.  It commits, so
it runs once per loaded data set (the month is then settled).  The floor is one
``GROUP BY provider_id`` summing the completed bookings' prices in the same
month (the same rows).
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from bench.generate import database_url

PERIOD = "2026-10"
FLOOR = """
SELECT provider_id, count(*), sum(price_fen) FROM booking
 WHERE status = 'completed' AND completed_at >= :start AND completed_at < :end GROUP BY provider_id
"""


def run() -> dict:
    from app import create_app
    from app.extensions import db
    from billing.jobs import settle_month
    from billing.settlements import Settlement, parse_period

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(),
                      "SECRET_KEY": "bench-secret-key-long-enough-1234567890"})
    with app.app_context():
        session = db.session
        period = parse_period(PERIOD)
        start, end = period.bounds()
        floor_rows = []

        def floor():
            floor_rows[:] = session.execute(sa.text(FLOOR), {"start": start, "end": end}).all()

        floor()  # warm the cache
        floor_s = min(_timed(floor) for _ in range(3))
        session.commit()
        started = time.perf_counter()
        settlements = settle_month(session, period)
        settle_s = time.perf_counter() - started
        made = len(settlements)
        if made == 0:
            raise SystemExit(f"{PERIOD} is settled already in this database: load it again (bench.generate)")
        gross = session.scalar(sa.select(sa.func.sum(Settlement.gross_fen)).where(Settlement.period == PERIOD))
        expected = sum(int(row[2]) for row in floor_rows)
        assert gross == expected, f"settled gross {gross} != the plain sum {expected}"
        figures = {"period": PERIOD, "providers_settled": made, "bookings": sum(int(r[1]) for r in floor_rows),
                   "floor_s": floor_s, "settlement_s": settle_s, "ratio": settle_s / floor_s,
                   "per_provider_ms": settle_s / max(1, made) * 1000}
        db.session.remove()
        db.engine.dispose()
    return figures


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    f = run()
    print(f"settlement {f['period']}: {f['providers_settled']:,} providers, {f['bookings']:,} bookings")
    print(f"  floor (plain SUM ... GROUP BY provider_id): {f['floor_s'] * 1000:,.0f} ms")
    print(f"  settle_month: {f['settlement_s'] * 1000:,.0f} ms ({f['per_provider_ms']:.1f} ms per provider); "
          f"ratio {f['ratio']:,.0f}x")


if __name__ == "__main__":
    main()
