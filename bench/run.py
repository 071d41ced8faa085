"""``make bench``: every benchmark at two sizes, one table, bench/results.json.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/linli_bench .venv/bin/python -m bench.run

For each size in ``BENCH_SCALES`` (default ``0.1 1``; 1 = 10,000 providers,
50,000 listings, 1,000,000 bookings): load the data set (bench/generate.py,
the database is dropped and made again), then run, each in a process of its
own (so one's memory does not count against another's peak):

* bench/evaluator.py — the supervision evaluator vs the plain SQL aggregate;
* bench/settlement.py — settle_month (the scheduler's job, committed per provider) vs the plain SQL sum;
* bench/web.py — catalogue search (JSON API and HTML page) vs a trivial endpoint;
* bench/serve.py — the catalogue API through gunicorn as ``make serve`` runs it (same argv
  builder), through worker recycles, with and without ``--preload``;
* bench/bookings.py — booking throughput vs plain SQL inserts; one contended slot.

Every figure with a goal is a ratio against a floor measured in the same run.
Prints the table (figure, one column per size, goal) and writes
bench/results.json (figures, machine, date).  docs/performance.md explains it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from bench import generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
BENCHMARKS = ("evaluator", "settlement", "web", "serve", "bookings")


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    # The server's maintenance database: the bench database may not exist yet (a fresh machine).
    engine = sa.create_engine(sa.engine.make_url(generate.database_url()).set(database="postgres"))
    with engine.connect() as conn:
        pg = conn.scalar(sa.text("SHOW server_version"))
    engine.dispose()
    return {"cpus": os.cpu_count(), "cpu_model": model or platform.processor(), "ram_gb": round(mem_kb / 2**20, 1),
            "postgresql": pg, "python": platform.python_version(), "os": platform.platform()}


def child(name: str, scale: str) -> dict:
    """Run bench/<name>.py's run() in a fresh interpreter; its figures come back as JSON."""
    code = f"import json, bench.{name} as b; print('BENCH-JSON ' + json.dumps(b.run(), default=str))"
    env = dict(os.environ, BENCH_SCALE=scale)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench/{name}.py failed at scale {scale}:\n{done.stderr[-4000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH-JSON "))
    figures = json.loads(line.removeprefix("BENCH-JSON "))
    figures["wall_s"] = time.perf_counter() - started
    return figures


def run_scale(scale: str) -> dict:
    os.environ["BENCH_SCALE"] = scale
    started = time.perf_counter()
    generate.recreate(generate.database_url())
    counts = generate.load(generate.database_url())
    result = {"scale": float(scale), "rows": counts, "load_s": time.perf_counter() - started}
    print(f"scale {scale}: loaded {counts['provider']:,} providers, {counts['listing']:,} listings, "
          f"{counts['booking']:,} bookings in {result['load_s']:.0f}s", flush=True)
    for name in BENCHMARKS:
        result[name] = child(name, scale)
        print(f"  {name}: {result[name]['wall_s']:.0f}s", flush=True)
    return result


def serve_rows(v: dict | None) -> list[tuple[str, str, str]]:
    """make serve's figures (bench/serve.py): after, and before (no --preload)."""
    if v is None:
        return []
    def cell(f: dict) -> str:
        return (f"{f['rps']:,.0f} ({f['p50_ms']:.1f}/{f['p99_ms']:.1f}), "
                f"{f['restarts']} restarts, load {f['load_1min']:.1f}")
    return [
        ("make serve: catalogue API req/s (p50/p99 ms), worker restarts", cell(v["serve"]),
         _ok(v["serve"]["restarts"] >= v["serve"]["workers"] and v["serve"]["non_2xx"] == 0)),
        ("make serve without --preload (before issue 12)", cell(v["serve_before"]), ""),
    ]


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def rows(result: dict) -> list[tuple[str, str, str]]:
    """(figure, value, verdict) for one size, in table order."""
    w, e, s, b = result["web"], result["evaluator"], result["settlement"], result["bookings"]
    c = b["contended"]
    return [
        ("data: providers / listings / bookings",
         f"{result['rows']['provider']:,} / {result['rows']['listing']:,} / {result['rows']['booking']:,}", ""),
        ("web floor: trivial JSON req/s (p50/p99 ms)",
         f"{w['trivial']['rps']:,.0f} ({w['trivial']['p50_ms']:.1f}/{w['trivial']['p99_ms']:.1f})", ""),
        ("catalogue API req/s (p50/p99 ms)",
         f"{w['api']['rps']:,.0f} ({w['api']['p50_ms']:.1f}/{w['api']['p99_ms']:.1f})", ""),
        ("catalogue API / floor", f"{w['api']['ratio']:.2f}", _ok(w["api"]["ratio"] >= 0.5)),
        ("catalogue page req/s (p50/p99 ms)",
         f"{w['page']['rps']:,.0f} ({w['page']['p50_ms']:.1f}/{w['page']['p99_ms']:.1f})", ""),
        ("catalogue page / floor", f"{w['page']['ratio']:.2f}", _ok(w["page"]["ratio"] >= 0.3)),
        ("catalogue API, one community, req/s (p50/p99 ms)",
         f"{w['api_community']['rps']:,.0f} ({w['api_community']['p50_ms']:.1f}/{w['api_community']['p99_ms']:.1f})",
         ""),
        ("catalogue API, one community / floor", f"{w['api_community']['ratio']:.2f}", ""),
        ("catalogue API, cache off, req/s (p50/p99 ms)",
         f"{w['api_uncached']['rps']:,.0f} ({w['api_uncached']['p50_ms']:.1f}/{w['api_uncached']['p99_ms']:.1f})", ""),
        ("catalogue API, cache off / floor", f"{w['api_uncached']['ratio']:.2f}", ""),
        ("catalogue page, cache off, req/s (p50/p99 ms)",
         f"{w['page_uncached']['rps']:,.0f} ({w['page_uncached']['p50_ms']:.1f}/{w['page_uncached']['p99_ms']:.1f})",
         ""),
        ("catalogue page, cache off / floor", f"{w['page_uncached']['ratio']:.2f}", ""),
        *serve_rows(result.get("serve")),
        ("bookings/s, distinct slots (plain SQL/s)", f"{b['bookings_per_s']:,.0f} ({b['floor_per_s']:,.0f})",
         _ok(b["booked"] == b["requests"])),
        ("booking time / plain SQL inserts", f"{b['ratio']:.1f}x", ""),
        ("contended slot: racers -> booked", f"{c['racers']} -> {c['booked']}", _ok(c["exactly_one"])),
        ("evaluator ms (plain SQL ms)", f"{e['evaluator_s'] * 1000:,.0f} ({e['floor_s'] * 1000:,.0f})", ""),
        ("evaluator / plain SQL aggregate", f"{e['ratio']:.2f}x", _ok(e["ratio"] <= 3)),
        ("evaluator peak memory MB (process RSS)", f"{e['peak_rss_mb']:,.0f}", _ok(e["peak_rss_mb"] < 300)),
        ("settlement s, providers (plain SQL ms)",
         f"{s['settlement_s']:,.1f}, {s['providers_settled']:,} ({s['floor_s'] * 1000:,.0f})", ""),
        ("settlement / plain SQL sum", f"{s['ratio']:,.0f}x", ""),
        ("settlement ms per provider", f"{s['per_provider_ms']:.1f}", ""),
    ]


GOALS = {
    "catalogue API / floor": ">= 0.5", "catalogue page / floor": ">= 0.3",
    "bookings/s, distinct slots (plain SQL/s)": "all succeed",
    "contended slot: racers -> booked": "exactly 1", "evaluator / plain SQL aggregate": "<= 3x",
    "evaluator peak memory MB (process RSS)": "< 300",
    "make serve: catalogue API req/s (p50/p99 ms), worker restarts": "every worker restarted, no errors",
}


def table(results: list[dict]) -> str:
    per_size = [rows(r) for r in results]
    header = ["figure"] + [f"scale {r['scale']:g}" for r in results] + ["goal"]
    lines = []
    for i, (figure, _v, _ok) in enumerate(per_size[0]):
        cells = [f"{rs[i][1]} {rs[i][2]}".strip() for rs in per_size]
        lines.append([figure] + cells + [GOALS.get(figure, "")])
    widths = [max(len(str(row[k])) for row in [header] + lines) for k in range(len(header))]
    fmt = " | ".join(f"{{:{w}}}" for w in widths)
    out = [fmt.format(*header), "-+-".join("-" * w for w in widths)]
    out += [fmt.format(*row) for row in lines]
    return "\n".join(out)


def main() -> None:
    scales = os.environ.get("BENCH_SCALES", "0.1 1").split()
    started = time.perf_counter()
    info = machine()
    print(f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['ram_gb']} GB RAM, "
          f"PostgreSQL {info['postgresql']}; database {generate.database_url()}", flush=True)
    results = [run_scale(scale) for scale in scales]
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": info,
              "seconds": round(time.perf_counter() - started), "results": results, "table": table(results)}
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    print()
    print(report["table"])
    print(f"\n{report['date']}, {report['seconds']}s; written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
