"""The benchmarks still run (bench/, `make bench`): a tiny data set on SQLite, a few seconds.

Only that they import, load and produce sane figures — the timings themselves
are `make bench`'s business, never a test's.
"""

from __future__ import annotations

import pytest

from bench import evaluator, generate, run, settlement, web

pytestmark = [pytest.mark.no_db_session]

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/ping
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms  512.00us  12.00ms   90.00%
  Latency Distribution
     50%    2.95ms
     75%    3.20ms
     90%    3.60ms
     99%    1.20s
  52000 requests in 10.00s, 8.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:   5200.12
Transfer/sec:    819.20KB
"""


def test_wrk_output_is_read_in_milliseconds():
    figures = web.parse_wrk(WRK_OUTPUT)
    assert figures == {"rps": 5200.12, "p50_ms": 2.95, "p99_ms": 1200.0, "non_2xx": 7, "socket_errors": ""}


def test_the_evaluator_and_settlement_benchmarks_run_on_a_tiny_data_set(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATABASE_URL", f"sqlite:///{tmp_path / 'bench.db'}")
    monkeypatch.setenv("BENCH_SCALE", "0.002")
    monkeypatch.setenv("BENCH_REPEAT", "1")
    url = generate.database_url()
    generate.recreate(url)
    counts = generate.load(url)
    assert counts["provider"] == 20 and counts["listing"] == 20 * generate.LISTINGS_PER_PROVIDER
    assert counts["booking"] == 2000

    evaluated = evaluator.run()
    assert evaluated["providers"] == 20 and evaluated["rows"]["booking"] == 2000
    assert evaluated["ratio"] > 0 and evaluated["peak_rss_mb"] > 0

    settled = settlement.run()  # asserts the settled gross equals the plain SQL sum
    assert 0 < settled["providers_settled"] <= 20 and settled["bookings"] > 0


def test_the_table_puts_each_goal_beside_its_figure():
    web_figures = {name: {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "ratio": rps / 1000}
                   for name, rps in (("trivial", 1000), ("api", 600), ("page", 200), ("api_community", 800),
                                     ("api_uncached", 50), ("page_uncached", 30))}
    result = {
        "scale": 0.1, "rows": {"provider": 1000, "listing": 5000, "booking": 100_000}, "web": web_figures,
        "evaluator": {"evaluator_s": 0.2, "floor_s": 0.1, "ratio": 2.0, "peak_rss_mb": 150},
        "settlement": {"settlement_s": 10.0, "providers_settled": 1000, "floor_s": 0.01, "ratio": 1000,
                       "per_provider_ms": 10.0},
        "bookings": {"bookings_per_s": 70, "floor_per_s": 800, "booked": 400, "requests": 400, "ratio": 11.0,
                     "contended": {"racers": 16, "booked": 1, "exactly_one": True}},
    }
    lines = run.table([result]).splitlines()
    api = next(line for line in lines if line.startswith("catalogue API / floor"))
    page = next(line for line in lines if line.startswith("catalogue page / floor"))
    assert "0.60 ok" in api and ">= 0.5" in api
    assert "0.20 MISSED" in page and ">= 0.3" in page
    assert "16 -> 1 ok" in next(line for line in lines if line.startswith("contended slot"))
