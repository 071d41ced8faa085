"""Issue 12, item 14: ``make serve``'s gunicorn preloads the app, and recycled workers
neither stall nor share the master's database connections.

The live test runs gunicorn with the argv app/serve.py builds (``commands()``),
only with ``--max-requests`` lowered so that workers are replaced many times
within a short run, against PostgreSQL: concurrent requests all succeed (a
connection shared across forks breaks the protocol under concurrent use), and
the master holds no database connection once the workers serve.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import serve
from app.config import ROOT
from tests.conftest import on_postgres, scratch_database
from tests.test_production import SETTINGS, free_port

pytestmark = [pytest.mark.no_db_session]


def test_serve_preloads_the_app_once_and_keeps_replacing_workers():
    settings, problems = serve.server_settings({})
    assert problems == []
    argv = serve.commands(settings)["gunicorn"]
    assert "--preload" in argv
    assert argv[argv.index("--config") + 1] == "python:app.gunicorn_conf"
    assert argv[argv.index("--max-requests") + 1] == "1000"  # still recycled, now at the cost of a fork
    assert argv[-1] == "app:create_app()"


def recycled_argv(settings: dict, every: int) -> list[str]:
    argv = list(serve.commands(settings)["gunicorn"])
    argv[argv.index("--max-requests") + 1] = str(every)
    argv[argv.index("--max-requests-jitter") + 1] = "0"
    return argv


def postgres_sockets(pid: int) -> set[str]:
    """Socket inodes of ``pid``'s TCP connections to port 5432 (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[2].endswith(":1538") and fields[9] in inodes:  # remote port 5432
                    found.add(fields[9])
    return found


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.skipif(not on_postgres(), reason="production mode runs on PostgreSQL only")
def test_recycled_preloaded_workers_answer_every_request_with_their_own_connections(tmp_path_factory, tmp_path):
    url = scratch_database(tmp_path_factory, "preload")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k not in SETTINGS}, "DATABASE_URL": url,
           "LINLI_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "LINLI_BIND": f"127.0.0.1:{port}",
           "LINLI_WORKERS": "2", "LINLI_SCHEDULER": "off", "LINLI_INSTANCE_DIR": str(tmp_path / "instance"),
           "LINLI_UPLOAD_DIR": str(tmp_path / "uploads"),
           # Production answers only its own host: here the loopback address the test calls.
           "LINLI_PUBLIC_URL": "https://linli.example.gov.cn", "LINLI_TRUSTED_HOSTS": "127.0.0.1"}
    settings, problems = serve.check(env)
    assert problems == []
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        serve.migrate()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(recycled_argv(settings, every=10), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=log, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log.read()
                time.sleep(0.1)  # not listening yet: poll until the deadline
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _n: get(f"{base}/healthz"), range(120)))
        assert statuses == [200] * 120
        log.flush()
        log.seek(0)
        boots = re.findall(r"Booting worker with pid: (\d+)", log.read())
        assert len(boots) >= 2 + 120 // 10 - 2  # the workers were replaced again and again
        assert postgres_sockets(process.pid) == set()  # the master holds no database connection
        # A worker that has just served its last request may be exiting while the master
        # forks its replacement: wait (until the deadline) for both workers to be up.
        deadline = time.monotonic() + 30
        while True:
            with open(f"/proc/{process.pid}/task/{process.pid}/children") as children:
                workers = [int(pid) for pid in children.read().split()]
            if len(workers) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # the replacement is being forked: poll until the deadline
        assert len(workers) == 2
        assert any(postgres_sockets(pid) for pid in workers), "the workers connect on their own"
    finally:
        process.terminate()
        process.wait(timeout=30)
