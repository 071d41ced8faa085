"""Catalogue search over HTTP: gunicorn (2 workers) and wrk (16 connections).

    BENCH_DATABASE_URL=… .venv/bin/python -m bench.web      (after bench.generate)

Three targets, each served by its own gunicorn with the same settings (2 sync
workers, access log off) and loaded by wrk with the same settings:

* the floor: bench/trivial.py's JSON endpoint (no database, no templates);
* the JSON API: ``GET /api/v1/catalogue?q=保洁`` (city-wide, anonymous: count
  the matches among every published listing, then one page of 20 with their
  providers and categories);
* the HTML page: ``GET /catalogue?q=保洁`` (the same search rendered by Jinja);
* the JSON API scoped to one community (``&community_id=1``), what a logged-in
  resident's search does by default (communities scale with the size: 5 at
  0.1, 50 at 1, so a fifth, then a fiftieth of the listings).

Linli runs in production mode (``LINLI_ENV=production``) against the benchmark
database.  Figures: requests per second, p50/p99 latency, non-2xx responses;
the goals are ratios of requests per second against the floor (API ≥ 0.5,
page ≥ 0.3).  ``BENCH_WEB_SECONDS`` (default 10) sets each wrk run's length.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from bench.generate import database_url

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
CONNECTIONS = 16
QUERY = "保洁"
COMMUNITY = 1  # a resident's default scope: their own community (one of 50)
NO_CACHE = {"LINLI_CATALOGUE_CACHE_SECONDS": "0"}
TARGETS = (  # name, WSGI app, path, extra environment
    ("trivial", "bench.trivial:app", "/ping", {}),
    ("api", "app:create_app()", f"/api/v1/catalogue?q={quote(QUERY)}", {}),
    ("page", "app:create_app()", f"/catalogue?q={quote(QUERY)}", {}),
    ("api_community", "app:create_app()", f"/api/v1/catalogue?q={quote(QUERY)}&community_id={COMMUNITY}", {}),
    # Every request a cache miss: what a search nobody asked in the last 30 s costs.
    ("api_uncached", "app:create_app()", f"/api/v1/catalogue?q={quote(QUERY)}", NO_CACHE),
    ("page_uncached", "app:create_app()", f"/catalogue?q={quote(QUERY)}", NO_CACHE),
)
RATIOS = ("api", "page", "api_community", "api_uncached", "page_uncached")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(instance: str) -> dict:
    env = dict(os.environ)
    env.update({
        "LINLI_ENV": "production", "DATABASE_URL": database_url(), "LINLI_INSTANCE_DIR": instance,
        "SECRET_KEY": secrets.token_hex(32), "LINLI_SCHEDULER": "off",
        "LINLI_PAYMENT_GATEWAY": "offline",
        # Production needs its public address; the benchmark calls it on the loopback.
        "LINLI_PUBLIC_URL": "https://linli.example.gov.cn", "LINLI_TRUSTED_HOSTS": "127.0.0.1",
    })
    return env


@contextmanager
def gunicorn(wsgi_app: str, env: dict):
    """A gunicorn on a free port serving ``wsgi_app``; yields its base URL once it answers."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(WORKERS), "--bind",
               f"127.0.0.1:{port}", "--log-level", "warning", wsgi_app]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (a 404 is an answer)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn {wsgi_app} did not start: "
                                       f"{process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def parse_wrk(output: str) -> dict:
    """Requests per second, p50/p99 latency (ms) and non-2xx/3xx responses from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M).groups()
        latency[pct] = float(value) * UNITS[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return {"rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"],
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(0) if errors else ""}


def wrk(url: str, seconds: int) -> dict:
    command = ["wrk", "--threads", "2", "--connections", str(CONNECTIONS), "--duration", f"{seconds}s",
               "--timeout", "10s", "--latency", url]
    return parse_wrk(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def run() -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    seconds = int(os.environ.get("BENCH_WEB_SECONDS", "10"))
    figures = {}
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as instance:
        env = server_env(instance)
        for name, wsgi_app, path, extra in TARGETS:
            with gunicorn(wsgi_app, env | extra) as base:
                with urllib.request.urlopen(base + path, timeout=30) as response:
                    assert response.status == 200, f"{path}: {response.status}"
                    body = response.read()
                if name == "api":
                    import json

                    figures["matches"] = json.loads(body)["total"]
                wrk(base + path, max(1, seconds // 5))  # warm up both workers
                figures[name] = wrk(base + path, seconds) | {"path": path}
    for name in RATIOS:
        figures[name]["ratio"] = figures[name]["rps"] / figures["trivial"]["rps"]
    return figures


def main() -> None:
    figures = run()
    print(f"catalogue search for {QUERY!r}: {figures['matches']:,} matching listings; gunicorn {WORKERS} workers, "
          f"wrk {CONNECTIONS} connections")
    for name in ("trivial", *RATIOS):
        f = figures[name]
        ratio = f" ratio {f['ratio']:.2f}" if "ratio" in f else ""
        print(f"  {name:14} {f['rps']:8,.0f} req/s  p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms"
              f"  non-2xx {f['non_2xx']}{ratio}")


if __name__ == "__main__":
    main()
