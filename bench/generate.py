"""Load a city-sized data set into PostgreSQL quickly (COPY through psycopg), or SQLite.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/linli_bench .venv/bin/python -m bench.generate

Sizes (``BENCH_SCALE`` multiplies them; 0.01 for a quick run): 10,000 providers,
1,000,000 bookings, 500,000 ratings, 20,000 complaints, plus the residents,
listings (five per provider: 50,000, offered in the provider's community, open
every day 08:00–20:00 with one place per slot), slots and documents they need.  The database is dropped and made
again from the migrations, then filled with COPY and its sequences moved on.
A ``sqlite:///…`` URL loads SQLite with batched inserts instead.
Bookings fall in the 300 days before 1 November 2026 (Asia/Shanghai), with
late, cancelled, missed and expired ones in realistic shares.
"""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import psycopg
import sqlalchemy as sa

SIZES = {"providers": 10_000, "bookings": 1_000_000, "ratings": 500_000, "complaints": 20_000,
         "residents": 20_000, "communities": 50}
AS_OF = datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)  # 2026-11-01 00:00 Shanghai
SPAN_DAYS = 300
HASH = "scrypt:131072:8:1$bench$not-a-real-hash"
LISTINGS_PER_PROVIDER = 5
# What the catalogue offers (titles to search for; bench/web.py searches "保洁").
SERVICES = ("上门保洁", "家电维修", "居家养老照护", "助餐送餐", "管道疏通", "开锁换锁", "育儿月嫂", "电动车充电",
            "空调清洗", "陪诊代办")


def database_url() -> str:
    from app.config import normalise_database_url

    return normalise_database_url(os.environ.get("BENCH_DATABASE_URL",
                                                 "postgresql://postgres@127.0.0.1:5432/linli_bench"))


def sizes() -> dict[str, int]:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    return {key: max(1, int(n * scale)) for key, n in SIZES.items()}


def recreate(url: str) -> None:
    """Drop and create the database, then migrate it (the schema comes only from migrations)."""
    from flask_migrate import upgrade

    from app import create_app

    target = sa.engine.make_url(url)
    if target.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(target.database + suffix):
                os.remove(target.database + suffix)
    else:
        admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-key-long-enough-1234567890"})
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()


def _copy(cur, table: str, columns: tuple[str, ...], rows) -> int:
    """COPY on PostgreSQL; batched executemany on SQLite (times as SQLAlchemy stores them there)."""
    if isinstance(cur, sqlite3.Cursor):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        n = 0
        for batch in itertools.batched(map(_sqlite_row, rows), 50_000) if hasattr(itertools, "batched") else \
                _batches(map(_sqlite_row, rows), 50_000):
            cur.executemany(sql, batch)
            n += len(batch)
        return n
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def _batches(rows, size):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_row(row):
    return tuple(v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else
                 v.isoformat() if isinstance(v, date) else v for v in row)


@contextmanager
def _connect(url: str):
    target = sa.engine.make_url(url)
    if target.get_backend_name() == "sqlite":
        conn = sqlite3.connect(target.database)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        try:
            yield conn, conn.cursor()
        finally:
            conn.close()
        return
    plain = target.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn, conn.cursor() as cur:
        yield conn, cur


def load(url: str, seed: int = 11) -> dict[str, int]:
    n = sizes()
    rng = random.Random(seed)
    created = AS_OF - timedelta(days=2 * 365)
    counts = {}
    with _connect(url) as (conn, cur):
        category_ids = [row[0] for row in cur.execute("SELECT id FROM service_category ORDER BY id")]
        counts["community"] = _copy(cur, "community", ("id", "code", "name", "district", "tier", "timezone", "created_at"), (
            (i, f"bench-{i}", f"社区{i}", "淄川区", "basic", "Asia/Shanghai", created) for i in range(1, n["communities"] + 1)))
        users = ("id", "phone", "name", "password_hash", "role", "community_id", "large_text", "session_nonce", "created_at")
        counts["user_account"] = _copy(cur, "user_account", users, (
            (i, f"138{i:08d}", f"居民{i}", HASH, "resident", 1 + i % n["communities"], False, f"n{i}", created)
            for i in range(1, n["residents"] + 1)))
        staff_id = n["residents"] + 1
        _copy(cur, "user_account", users, [(staff_id, "13700000000", "员工", HASH, "provider_staff", None, False, "s", created)])
        activated = [created if rng.random() > 0.03 else AS_OF - timedelta(days=rng.randint(5, 80))
                     for _ in range(n["providers"])]
        counts["provider"] = _copy(cur, "provider", (
            "id", "name", "credit_code", "legal_representative", "contact_name", "contact_phone", "address",
            "description", "status", "submitted_at", "activated_at", "created_at", "updated_at"), (
            (p, f"服务机构{p}", f"91{p:016d}", "张三", "李四", f"139{p:08d}", "", "", "active",
             activated[p - 1] - timedelta(days=3), activated[p - 1], created, created)
            for p in range(1, n["providers"] + 1)))
        _copy(cur, "provider_staff", ("user_id", "provider_id", "is_owner"), [(staff_id, 1, True)])
        _copy(cur, "provider_community", ("provider_id", "community_id"), (
            (p, 1 + p % n["communities"]) for p in range(1, n["providers"] + 1)))
        _copy(cur, "provider_category", ("provider_id", "category_id"), (
            (p, category_ids[p % len(category_ids)]) for p in range(1, n["providers"] + 1)))
        # Listing p (p <= providers) is provider p's first, the one the bookings below use;
        # listing (k - 1) * providers + p is its k-th.
        listings = [((k - 1) * n["providers"] + p, p, k) for k in range(1, LISTINGS_PER_PROVIDER + 1)
                    for p in range(1, n["providers"] + 1)]
        counts["listing"] = _copy(cur, "listing", (
            "id", "provider_id", "category_id", "title", "description", "price_fen", "pricing_unit",
            "duration_minutes", "response_hours", "status", "version", "search_text", "rating_sum", "rating_count",
            "created_at", "updated_at", "published_at"), (
            (i, p, category_ids[p % len(category_ids)], title, "上门服务，自带工具", 5000 + 1000 * ((i * 7) % 20),
             "per_visit", 120, 4, "published", 1, f"{title}\n上门服务，自带工具", 4 * (i % 9), i % 9, created, created,
             created)
            for i, p, k in listings for title in [f"{SERVICES[(p + k) % len(SERVICES)]}{i}"]))
        _copy(cur, "listing_community", ("listing_id", "community_id"), (
            (i, 1 + p % n["communities"]) for i, p, _k in listings))
        _copy(cur, "availability_window", ("listing_id", "weekday", "start_minute", "end_minute", "capacity"), (
            (i, day, 8 * 60, 20 * 60, 1) for i, _p, _k in listings for day in range(7)))
        counts["qualification_document"] = _copy(cur, "qualification_document", (
            "id", "provider_id", "kind", "original_name", "stored_name", "content_type", "size_bytes", "sha256",
            "expires_on", "uploaded_at", "uploaded_by_id"), (
            (p, p, "business_licence", "执照.pdf", f"bench-{p}.pdf", "application/pdf", 100, "0" * 64,
             date(2026, 6, 30) if rng.random() < 0.01 else date(2028, 1, 1), created, staff_id)
            for p in range(1, n["providers"] + 1)))

        # Bookings: one slot each; statuses and lateness in realistic shares.
        bookings = []
        for b in range(1, n["bookings"] + 1):
            provider = rng.randint(1, n["providers"])
            starts = AS_OF - timedelta(days=rng.random() * SPAN_DAYS)
            roll = rng.random()
            status = ("completed" if roll < 0.86 else "cancelled_by_provider" if roll < 0.89 else
                      "no_show_provider" if roll < 0.90 else "expired" if roll < 0.93 else "cancelled_by_resident")
            late = status == "completed" and rng.random() < 0.08
            bookings.append((b, provider, starts, status, late))
        counts["booking_slot"] = _copy(cur, "booking_slot", ("id", "listing_id", "starts_at", "capacity", "taken"), (
            (b, p, s, 50, 1) for b, p, s, _st, _l in bookings))
        resident_of = lambda b: 1 + b % n["residents"]  # noqa: E731
        counts["booking"] = _copy(cur, "booking", (
            "id", "listing_id", "listing_version", "provider_id", "resident_id", "community_id", "slot_id", "status",
            "address", "note", "price_fen", "requested_at", "respond_by", "starts_at", "ends_at", "grace_minutes",
            "responded_at", "checked_in_at", "completed_at", "auto_confirmed", "late_response", "late_start",
            "late_finish", "late_cancellation"), (
            (b, p, 1, p, resident_of(b), 1 + resident_of(b) % n["communities"], b, st, "3号楼", "", 10000,
             s - timedelta(days=2), s - timedelta(days=1), s, s + timedelta(hours=2), 15,
             None if st == "expired" else s - timedelta(days=1, hours=2),
             s + timedelta(minutes=40 if late else 0) if st == "completed" else None,
             s + timedelta(hours=2, minutes=40 if late else 0) if st == "completed" else None,
             False, st == "expired", late, late, False)
            for b, p, s, st, late in bookings))
        completed = [(b, p, s) for b, p, s, st, _l in bookings if st == "completed"]
        del bookings
        rated = completed[: n["ratings"]]
        counts["rating"] = _copy(cur, "rating", (
            "id", "booking_id", "resident_id", "provider_id", "listing_id", "overall", "timeliness", "quality",
            "attitude", "comment", "created_at"), (
            (i, b, resident_of(b), p, p, score, score, score, score, "", s + timedelta(hours=5))
            for i, (b, p, s) in enumerate(rated, start=1)
            for score in [rng.choices((1, 2, 3, 4, 5), weights=(3, 4, 10, 35, 48))[0]]))
        complained = rng.sample(completed, min(n["complaints"], len(completed)))
        counts["complaint"] = _copy(cur, "complaint", (
            "id", "booking_id", "resident_id", "provider_id", "kind", "description", "status", "created_at",
            "respond_by", "decided_at", "decision_reason"), (
            (i, b, resident_of(b), p, "late", "迟到", st, s + timedelta(hours=3), s + timedelta(hours=51),
             s + timedelta(days=3) if st in ("upheld", "dismissed") else None, "核实" if st != "open" else None)
            for i, (b, p, s) in enumerate(complained, start=1)
            for st in [rng.choice(("upheld", "upheld", "dismissed", "open"))]))
        if not isinstance(cur, sqlite3.Cursor):
            for table in ("community", "user_account", "provider", "listing", "availability_window",
                          "qualification_document",
                          "booking_slot", "booking", "rating", "complaint"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        if isinstance(cur, sqlite3.Cursor):
            cur.execute("ANALYZE")
        else:
            # As after any bulk load: statistics, visibility map and hint bits now, so
            # the benchmarks neither set them on first read nor race autovacuum for the CPUs.
            conn.autocommit = True
            cur.execute("VACUUM (ANALYZE)")
    return counts


def main() -> None:
    url = database_url()
    started = time.perf_counter()
    recreate(url)
    migrated = time.perf_counter()
    counts = load(url)
    loaded = time.perf_counter()
    print(f"migrated in {migrated - started:.1f}s; loaded in {loaded - migrated:.1f}s:")
    for table, count in counts.items():
        print(f"  {table:24} {count:>10,}")


if __name__ == "__main__":
    main()
