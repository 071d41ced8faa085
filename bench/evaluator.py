"""Time the evaluator's metric computation against the plain SQL aggregate (the floor).

    BENCH_DATABASE_URL=… .venv/bin/python -m bench.evaluator      (after bench.generate)

Both run in the same process against the same rows: the evaluator
(:func:`ratings.supervision.evaluator.evaluate`: providers, the scorecard's
figures over the 90- and 365-day windows, expired documents, grades and
breaches) and the floor, one plain ``GROUP BY provider_id`` per table and
window counting the same rows.  Each is run ``BENCH_REPEAT`` times (default 3)
and the best time is kept.  Prints the ratio (goal ≤ 3×) and the peak memory:
the process's peak resident set (goal < 300 MB) and the evaluator's own peak
Python allocations (tracemalloc).
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc

import sqlalchemy as sa

from bench.generate import database_url

FLOOR = """
SELECT provider_id, count(*), sum(CASE WHEN late_start OR late_finish OR late_response THEN 1 ELSE 0 END)
  FROM booking WHERE starts_at >= :start AND starts_at < :end GROUP BY provider_id;
SELECT provider_id, count(*), sum(overall) FROM rating WHERE created_at >= :start AND created_at < :end
 GROUP BY provider_id;
SELECT provider_id, count(*) FROM complaint WHERE status = 'upheld' AND decided_at >= :start AND decided_at < :end
 GROUP BY provider_id
"""


def peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM, which starts afresh with the program.
    (``getrusage``'s ``ru_maxrss`` does not: Linux carries the parent's peak across
    fork and exec, so under bench/run.py — whose process holds the generated city —
    it reported the parent's 385 MB, not the evaluator's.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> dict:
    from app import create_app
    from app.extensions import db
    from ratings.supervision import rules
    from ratings.supervision.evaluator import evaluate, windows
    from bench.generate import AS_OF

    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(),
                      "SECRET_KEY": "bench-secret-key-long-enough-1234567890"})
    with app.app_context():
        session = db.session
        rule_set = rules.current(session)
        short, long = windows(rule_set, AS_OF)
        counts = {t: session.scalar(sa.text(f"SELECT count(*) FROM {t}"))
                  for t in ("provider", "booking", "rating", "complaint")}

        def floor():
            for window in (short, long):
                for statement in FLOOR.split(";"):
                    session.execute(sa.text(statement), {"start": window.start, "end": window.end}).all()

        result = {}

        def evaluator():
            result["evaluation"] = evaluate(session, rule_set, AS_OF)
            # Each run starts from an empty session, as the daily job does (one run per
            # process): without this the session keeps every run's objects and the peak
            # memory measures the repeats, not the evaluator.
            session.rollback()
            for obj in list(session):
                if obj is not rule_set:
                    session.expunge(obj)

        floor()  # warm the cache for both
        evaluator()
        floor_s = best_of(repeat, floor)
        evaluator_s = best_of(repeat, evaluator)
        tracemalloc.start()  # a separate pass: tracing slows Python down
        evaluator()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        evaluation = result["evaluation"]
        rss_mb = peak_rss_mb()
        figures = {"dialect": db.engine.dialect.name, "rows": counts, "providers": len(evaluation.results),
                   "breaches": evaluation.breach_count, "grades": evaluation.grade_counts(),
                   "floor_s": floor_s, "evaluator_s": evaluator_s, "ratio": evaluator_s / floor_s,
                   "peak_rss_mb": rss_mb, "evaluator_alloc_mb": peak / 2**20}
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    f = run()
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in f["rows"].items()))
    print(f"dialect: {f['dialect']}; providers evaluated: {f['providers']:,}; "
          f"breaches: {f['breaches']:,}; grades: {f['grades']}")
    print(f"floor (plain GROUP BY, both windows): {f['floor_s'] * 1000:,.0f} ms")
    print(f"evaluator (figures, grades, breaches): {f['evaluator_s'] * 1000:,.0f} ms")
    print(f"ratio: {f['ratio']:.2f}x (goal <= 3x) {'OK' if f['ratio'] <= 3 else 'OVER'}")
    print(f"peak memory: process {f['peak_rss_mb']:,.0f} MB (goal < 300 MB) "
          f"{'OK' if f['peak_rss_mb'] < 300 else 'OVER'}; evaluator allocations {f['evaluator_alloc_mb']:,.1f} MB")


if __name__ == "__main__":
    main()
