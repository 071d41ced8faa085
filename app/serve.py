"""Production mode: ``make serve`` (``python -m app.serve``).

1. Checks the environment (``LINLI_ENV=production``): every problem is printed on
   a line of its own and serve exits with status 2 — never a half-working app.
2. Migrates the database (``flask db upgrade``) under a PostgreSQL advisory lock,
   so machines starting together migrate once, one after the other.
3. Runs gunicorn serving ``app:create_app()``, built once before the workers fork
   (``--preload``; app/gunicorn_conf.py), with several worker processes and,
   unless ``LINLI_SCHEDULER=off``, the one scheduler process
   (``flask --app app scheduler``).  Ctrl-C or SIGTERM stops both; when either
   ends by itself the other is stopped too and serve exits non-zero, so the
   supervisor around it (systemd, a container runtime) restarts the pair.

Settings of the server itself (the app's own are in app/config.py):
``LINLI_BIND`` (default ``127.0.0.1:8000``), ``LINLI_WORKERS`` (default
2 × cores + 1, at most 8), ``LINLI_WORKER_TIMEOUT`` (seconds, default 30),
and ``LINLI_SCHEDULER`` (default on; off on every machine but one).  See docs/deploy.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from app.config import ROOT, ConfigError, _bool, _int, load_config

MAX_DEFAULT_WORKERS = 8
# pg_advisory_lock key for migrations: any constant shared by every machine ("linli-mg").
MIGRATION_LOCK = 0x6C696E6C696D67
STOP_SECONDS = 30


class Stop(Exception):
    """Ctrl-C or SIGTERM reached serve."""


def default_workers() -> int:
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


def server_settings(env: dict) -> tuple[dict, list[str]]:
    """gunicorn's and the scheduler's settings, and what is wrong with them."""
    settings, problems = {}, []
    for name, default, low in (("LINLI_WORKERS", default_workers(), 1), ("LINLI_WORKER_TIMEOUT", 30, 5)):
        try:
            settings[name] = _int(env, name, default)
            if settings[name] < low:
                problems.append(f"{name} must be at least {low}, got {settings[name]}")
        except ConfigError as error:
            problems.append(str(error))
    bind = env.get("LINLI_BIND") or "127.0.0.1:8000"
    host, _, port = bind.rpartition(":")
    if not (host and port.isdigit() and 0 < int(port) < 65536) and not bind.startswith("unix:"):
        problems.append(f"LINLI_BIND must be host:port (e.g. 0.0.0.0:8000) or unix:/path, got {bind!r}")
    settings["LINLI_BIND"] = bind
    try:
        settings["LINLI_SCHEDULER"] = _bool(env, "LINLI_SCHEDULER", True)
    except ConfigError as error:
        problems.append(str(error))
    return settings, problems


def check(env: dict) -> tuple[dict, list[str]]:
    """Every problem with a production environment, one line each (empty: good to go)."""
    problems = []
    try:
        load_config(env)
    except ConfigError as error:
        problems.extend(error.problems)
    settings, server_problems = server_settings(env)
    return settings, problems + server_problems


def migrate() -> None:
    """``flask db upgrade`` once, even when several machines start at the same moment."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    app = create_app()
    with app.app_context():
        with db.engine.connect() as lock:
            lock.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                upgrade()
            finally:
                lock.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                lock.commit()
        db.engine.dispose()


def commands(settings: dict) -> dict[str, list[str]]:
    gunicorn = [
        sys.executable, "-m", "gunicorn",
        "--bind", settings["LINLI_BIND"],
        "--workers", str(settings["LINLI_WORKERS"]),
        "--timeout", str(settings["LINLI_WORKER_TIMEOUT"]),
        "--graceful-timeout", "20",
        # A worker is replaced after about a thousand requests (bounded memory growth).  The
        # app is built once in the master (--preload) and workers are forks of it, so the
        # replacements, which come close together, cost a fork each, not ~3.5 s of CPU to
        # load the app; app/gunicorn_conf.py keeps the master's database connections out
        # of the workers.
        "--max-requests", "1000", "--max-requests-jitter", "100",
        "--preload", "--config", "python:app.gunicorn_conf",
        "--access-logfile", "-",
        # serve is the supervisor; gunicorn's control socket (one path per user) would clash
        # between instances on one machine.
        "--no-control-socket",
        "app:create_app()",
    ]
    processes = {"gunicorn": gunicorn}
    if settings["LINLI_SCHEDULER"]:
        processes["scheduler"] = [sys.executable, "-m", "flask", "--app", "app", "scheduler"]
    return processes


def say(message: str) -> None:
    print(f"linli: {message}", file=sys.stderr, flush=True)


def run(settings: dict, env: dict) -> int:
    """Start gunicorn and the scheduler; stop both when either ends or on Ctrl-C/SIGTERM."""
    def stop_signal(signum, _frame):
        raise Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: dict[str, subprocess.Popen] = {}
    status = 0
    try:
        for name, command in commands(settings).items():
            # Their own session: Ctrl-C reaches serve only, which stops them in order.
            children[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        say(", ".join(f"{name} pid {child.pid}" for name, child in children.items())
            + f"; serving on {settings['LINLI_BIND']}; Ctrl-C stops all")
        while True:
            ended = [(name, child.returncode) for name, child in children.items() if child.poll() is not None]
            if ended:
                say("; ".join(f"{name} exited with status {code}" for name, code in ended) + "; stopping the rest")
                status = 1
                break
            time.sleep(0.2)
    except Stop as why:
        say(f"{why}: stopping")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        stop(children)
    return status


def stop(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM (gunicorn: finish requests in flight) / SIGINT (scheduler), then wait; kill stragglers."""
    for name, child in children.items():
        if child.poll() is None:
            child.send_signal(signal.SIGINT if name == "scheduler" else signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main(env: dict | None = None) -> int:
    env = {**(os.environ if env is None else env), "LINLI_ENV": "production"}
    settings, problems = check(env)
    if problems:
        for problem in problems:
            say(problem)
        say(f"not started: {len(problems)} configuration problem(s); see docs/deploy.md")
        return 2
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # migrate() builds the app from the same environment
    try:
        migrate()
    except Exception as error:  # noqa: BLE001  (one clear line, not a traceback)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        say(f"could not migrate the database: {first}")
        return 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return run(settings, env)


if __name__ == "__main__":
    sys.exit(main())
