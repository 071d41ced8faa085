"""The catalogue API through gunicorn exactly as ``make serve`` runs it, through worker recycles.

    BENCH_DATABASE_URL=… .venv/bin/python -m bench.serve      (after bench.generate)

bench/web.py measures the app with a gunicorn of its own (2 workers, no
recycling); this one takes gunicorn's argv from app/serve.py's ``commands()``
— the same builder ``make serve`` uses: LINLI_WORKERS workers (default 2 ×
cores + 1), ``--max-requests 1000 --max-requests-jitter 100``, ``--preload``
and its hooks, the access log — only bound to a free loopback port.  wrk sends
``GET /api/v1/catalogue?q=保洁`` over 32 connections, after a 5 s warm-up, for
``BENCH_SERVE_SECONDS`` (default 30) or, when the warm-up's rate says that is too
short, as long as it takes every worker to reach ``--max-requests`` again (at
most 300 s): the measured run goes through the recycles whatever the machine's
speed.  The figure counts the replacements from gunicorn's log ("Booting worker").

It runs twice: as ``make serve`` does now, and with ``--preload`` and its hooks
taken out of the same argv (how ``make serve`` ran before issue 12: each new
worker loads the app itself, ~3.5 s of CPU, and the workers come up for
replacement within about a second of each other).  The load average before
each run is recorded, since the machine may be shared.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from app import serve
from bench import web

CONNECTIONS = 32
PATH = f"/api/v1/catalogue?q={quote(web.QUERY)}"
WARM_UP_SECONDS = 5
MAX_REQUESTS, JITTER = 1000, 100  # what app/serve.py passes (checked in run())
PRELOAD = ("--preload", "--config", "python:app.gunicorn_conf")


def without_preload(argv: list[str]) -> list[str]:
    """``argv`` without ``--preload`` and its hooks file (the argv make serve used before)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--preload":
            continue
        if arg == "--config" and argv[i + 1] == PRELOAD[2]:
            skip = True
            continue
        out.append(arg)
    return out


def serve_argv(env: dict) -> tuple[list[str], int]:
    """gunicorn's argv from app/serve.py for this environment, and its worker count."""
    settings, problems = serve.check(env)
    if problems:
        raise SystemExit("bench/serve.py: " + "; ".join(problems))
    return serve.commands(settings)["gunicorn"], settings["LINLI_WORKERS"]


def wrk(base: str, seconds: int) -> dict:
    command = ["wrk", "--threads", "2", "--connections", str(CONNECTIONS), "--duration", f"{seconds}s",
               "--timeout", "10s", "--latency", base + PATH]
    return web.parse_wrk(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def measure(argv: list[str], workers: int, env: dict, seconds: int, log_path: str) -> dict:
    base = f"http://{env['LINLI_BIND']}"
    with open(log_path, "w+") as log:
        process = subprocess.Popen(argv, cwd=web.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    with urllib.request.urlopen(base + PATH, timeout=60) as response:
                        assert response.status == 200, response.status
                    break
                except urllib.error.HTTPError:
                    raise
                except OSError:  # not listening yet, or the first workers still loading the app
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"gunicorn did not start: {log.read()[-2000:]}") from None
                    time.sleep(0.2)
            # Every first worker up and warm (what their start-up costs is not the figure), then
            # measure: the recycles fall inside the run.
            warm = wrk(base, WARM_UP_SECONDS)
            # Long enough for every worker to reach --max-requests (1000 + up to 100) once more,
            # at the rate the warm-up saw; at least BENCH_SERVE_SECONDS, at most 300 s.
            needed = workers * (MAX_REQUESTS + JITTER) * 1.25 / max(warm["rps"], 1.0)
            seconds = int(min(max(seconds, math.ceil(needed)), 300))
            load = os.getloadavg()[0]
            figures = wrk(base, seconds)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.seek(0)
        boots = len(re.findall(r"Booting worker with pid", log.read()))
    return figures | {"workers": workers, "restarts": max(boots - workers, 0), "load_1min": load,
                      "seconds": seconds, "connections": CONNECTIONS}


def run() -> dict:
    seconds = int(os.environ.get("BENCH_SERVE_SECONDS", "30"))
    figures = {}
    with tempfile.TemporaryDirectory(prefix="linli-bench-serve-") as instance:
        env = web.server_env(instance) | {"SECRET_KEY": secrets.token_hex(32)}
        for name, preload in (("serve", True), ("serve_before", False)):
            env["LINLI_BIND"] = f"127.0.0.1:{web.free_port()}"
            argv, workers = serve_argv(env)
            assert argv[argv.index("--max-requests") + 1] == str(MAX_REQUESTS)
            assert argv[argv.index("--max-requests-jitter") + 1] == str(JITTER)
            if not preload:
                argv = without_preload(argv)
            figures[name] = measure(argv, workers, env, seconds, os.path.join(instance, f"{name}.log"))
            figures[name]["argv"] = " ".join(argv[1:])
    return figures


def line(name: str, f: dict) -> str:
    return (f"  {name:13} {f['rps']:8,.0f} req/s  p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:8.1f} ms  "
            f"non-2xx {f['non_2xx']}  {f['restarts']} worker restarts ({f['workers']} workers)  "
            f"{f['seconds']} s, load {f['load_1min']:.1f}")


def main() -> None:
    figures = run()
    print(f"catalogue API through make serve's gunicorn, wrk {CONNECTIONS} connections")
    print(line("serve", figures["serve"]))
    print(line("no --preload", figures["serve_before"]))


if __name__ == "__main__":
    main()
