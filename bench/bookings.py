"""Booking creation: throughput on distinct slots, and one contended slot.

    BENCH_DATABASE_URL=… .venv/bin/python -m bench.bookings      (after bench.generate)

Residents book the way the booking view does (``write_transaction`` around
:func:`providers.bookings.services.request_booking`, then one commit), from
``BENCH_BOOKING_THREADS`` threads (default 4) with a connection each:

* distinct slots: ``BENCH_BOOKINGS`` requests (default 400, at most one per
  provider), each for a different provider's listing, every one succeeds.
  The floor is the plain SQL writes of the same rows — the slot and the booking
  inserted by two ``INSERT`` statements in one committed transaction each, from
  the same threads — so the ratio shows what the service adds (rules, the
  conditional slot update, the event, the notification, the receivers);
* one contended slot: ``RACERS`` (16) residents ask for the last place of one
  slot at the same moment (a barrier): exactly one must succeed, the others
  get a Conflict.

Each run books a day after any booking already in the future, so it can run
again on the same database (until the 60-day booking horizon).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from datetime import datetime, timedelta, timezone
from datetime import time as clock_time

import sqlalchemy as sa

from bench.generate import database_url

RACERS = 16


def _workers(count: int, tasks: list, work) -> float:
    """Run ``work(task)`` for every task on ``count`` threads; returns the wall-clock seconds."""
    todo: queue.Queue = queue.Queue()
    for task in tasks:
        todo.put(task)

    def worker():
        while True:
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            work(task)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run() -> dict:
    from app import create_app
    from app.clock import local, now, zone
    from app.db import write_transaction
    from app.errors import Conflict
    from app.extensions import db
    from app.models import User
    from providers.bookings import services

    threads = int(os.environ.get("BENCH_BOOKING_THREADS", "4"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(),
                      "SECRET_KEY": "bench-secret-key-long-enough-1234567890",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + threads + 2, "max_overflow": 0}})
    with app.app_context():
        session = db.session
        providers = session.scalar(sa.text("SELECT count(*) FROM provider"))
        residents = session.scalar(sa.text("SELECT count(*) FROM user_account WHERE role = 'resident'"))
        count = min(int(os.environ.get("BENCH_BOOKINGS", "400")), providers - 1, residents)
        latest = session.scalar(sa.text("SELECT max(starts_at) FROM booking")) or now()
        day = max(local(now()).date() + timedelta(days=2), local(latest).date() + timedelta(days=1))
        starts = datetime.combine(day, clock_time(10), tzinfo=zone()).astimezone(timezone.utc)
        floor_starts = starts + timedelta(hours=2)
        db.session.remove()
        # Listing p is provider p's first; resident p lives in its community (bench/generate.py).
        tasks = list(range(1, count + 1))
        failures: list[str] = []

        def book(listing_id: int) -> None:
            with app.app_context():
                try:
                    resident = db.session.get(User, listing_id)
                    with write_transaction(db.session):
                        services.request_booking(db.session, resident, listing_id=listing_id, starts_at=starts,
                                                 address="3号楼2单元101")
                    db.session.commit()
                except Exception as error:  # noqa: BLE001 — counted and reported
                    db.session.rollback()
                    failures.append(f"{listing_id}: {error!r}")
                finally:
                    db.session.remove()

        engine = db.engine

        def plain_insert(listing_id: int) -> None:
            with engine.begin() as conn:
                slot_id = conn.scalar(sa.text(
                    "INSERT INTO booking_slot (listing_id, starts_at, capacity, taken) VALUES (:l, :s, 1, 1) "
                    "RETURNING id"), {"l": listing_id, "s": floor_starts})
                conn.execute(sa.text(
                    "INSERT INTO booking (listing_id, listing_version, provider_id, resident_id, community_id, "
                    "slot_id, status, address, note, price_fen, requested_at, respond_by, starts_at, ends_at, "
                    "grace_minutes, auto_confirmed, late_response, late_start, late_finish, late_cancellation) "
                    "SELECT l.id, l.version, l.provider_id, :r, u.community_id, :slot, 'requested', '3号楼', '', "
                    "l.price_fen, now(), :s, :s, :s + interval '2 hours', 15, false, false, false, false, false "
                    "FROM listing l, user_account u WHERE l.id = :l AND u.id = :r"),
                    {"l": listing_id, "r": listing_id, "slot": slot_id, "s": floor_starts})

        floor_s = _workers(threads, tasks, plain_insert)
        with db.engine.begin() as conn:  # the floor's rows go again
            floor_rows = conn.scalar(sa.text("SELECT count(*) FROM booking WHERE starts_at = :s"), {"s": floor_starts})
            assert floor_rows == count, f"the plain SQL floor wrote {floor_rows} of {count} bookings"
            conn.execute(sa.text("DELETE FROM booking WHERE starts_at = :s"), {"s": floor_starts})
            conn.execute(sa.text("DELETE FROM booking_slot WHERE starts_at = :s"), {"s": floor_starts})
        service_s = _workers(threads, tasks, book)
        booked = db.session.scalar(sa.text("SELECT count(*) FROM booking WHERE starts_at = :s"), {"s": starts})

        # One contended slot: the listing after the ones booked above, one place, 16 residents.
        contended = count + 1
        community = db.session.scalar(sa.text("SELECT community_id FROM listing_community WHERE listing_id = :l"),
                                      {"l": contended})
        racers = list(db.session.scalars(sa.text(
            "SELECT id FROM user_account WHERE role = 'resident' AND community_id = :c ORDER BY id LIMIT :n"),
            {"c": community, "n": RACERS}))
        db.session.remove()
        barrier = threading.Barrier(len(racers))
        outcomes: list[str] = []
        lock = threading.Lock()

        def race(resident_id: int) -> None:
            with app.app_context():
                resident = db.session.get(User, resident_id)
                barrier.wait()
                try:
                    with write_transaction(db.session):
                        services.request_booking(db.session, resident, listing_id=contended, starts_at=starts,
                                                 address="楼下")
                    db.session.commit()
                    result = "booked"
                except Conflict:
                    db.session.rollback()
                    result = "conflict"
                except Exception as error:  # noqa: BLE001
                    db.session.rollback()
                    result = f"error {error!r}"
                finally:
                    db.session.remove()
                with lock:
                    outcomes.append(result)

        race_threads = [threading.Thread(target=race, args=(r,)) for r in racers]
        for thread in race_threads:
            thread.start()
        for thread in race_threads:
            thread.join()
        in_slot = db.session.scalar(sa.text(
            "SELECT count(*) FROM booking WHERE listing_id = :l AND starts_at = :s"), {"l": contended, "s": starts})
        db.session.remove()
        db.engine.dispose()
    return {
        "threads": threads, "requests": count, "booked": booked, "failures": failures[:5],
        "floor_s": floor_s, "service_s": service_s,
        "bookings_per_s": booked / service_s, "floor_per_s": count / floor_s, "ratio": service_s / floor_s,
        "contended": {"racers": len(racers), "booked": outcomes.count("booked"),
                      "conflicts": outcomes.count("conflict"),
                      "errors": [o for o in outcomes if o.startswith("error")][:3], "rows_in_slot": in_slot,
                      "exactly_one": outcomes.count("booked") == 1 and in_slot == 1},
    }


def main() -> None:
    f = run()
    print(f"booking creation, {f['threads']} threads: {f['booked']:,}/{f['requests']:,} booked in "
          f"{f['service_s']:.2f}s = {f['bookings_per_s']:,.0f}/s; plain SQL floor {f['floor_per_s']:,.0f}/s; "
          f"ratio {f['ratio']:.1f}x")
    if f["failures"]:
        print("  failures: " + "; ".join(f["failures"]))
    c = f["contended"]
    print(f"one contended slot: {c['racers']} racers -> {c['booked']} booked, {c['conflicts']} conflicts, "
          f"{c['rows_in_slot']} row(s) in the slot: {'OK' if c['exactly_one'] else 'WRONG'} {c['errors'] or ''}")


if __name__ == "__main__":
    main()
