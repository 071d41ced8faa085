"""Production mode (``make serve``): the environment is checked at start-up, and
gunicorn plus the scheduler really serve the app.

Bad settings stop ``create_app`` (and ``python -m app.serve``) with a message
naming each problem; a good environment starts.  The live test runs
``python -m app.serve`` for real against an empty PostgreSQL database of its own
(``<test db>_serve``): it migrates, serves on a free loopback port, answers
/healthz and the home page, and stops both processes on Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import ROOT, ConfigError
from app.serve import MAX_DEFAULT_WORKERS, main, server_settings
from tests.conftest import on_postgres, scratch_database

pytestmark = [pytest.mark.no_db_session]

KEY = "f3a9c2e18b7d4c60a5e2f1b9d8c7a6e5f4b3c2d1e0f9a8b7"
# Never connected to by the checks below; the PostgreSQL suite uses its real database.
NOWHERE = "postgresql://linli@127.0.0.1:1/linli"
SETTINGS = ("SECRET_KEY", "DATABASE_URL", "LINLI_SECURE_COOKIES", "LINLI_PAYMENT_GATEWAY", "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET", "STRIPE_CURRENCY", "STRIPE_PAYMENT_METHODS", "LINLI_PROXY_HOPS",
            "LINLI_WORKERS", "LINLI_BIND", "LINLI_SCHEDULER", "LINLI_WORKER_TIMEOUT", "LINLI_DB_POOL_SIZE",
            "LINLI_DB_MAX_OVERFLOW", "LINLI_PUBLIC_URL", "LINLI_TRUSTED_HOSTS")
PUBLIC_URL = "https://linli.example.gov.cn"


def database() -> str:
    return os.environ["TEST_DATABASE_URL"] if on_postgres() else NOWHERE


@pytest.fixture
def production(monkeypatch, tmp_path):
    """A good production environment; tests change one setting at a time."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LINLI_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("DATABASE_URL", database())
    monkeypatch.setenv("LINLI_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("LINLI_TRUSTED_HOSTS", "localhost")  # the test client's host
    monkeypatch.setenv("LINLI_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("LINLI_UPLOAD_DIR", str(tmp_path / "uploads"))
    return monkeypatch


BAD = [
    ({"SECRET_KEY": None}, "SECRET_KEY is required in production"),
    ({"SECRET_KEY": "a3f9c2e18b7d4c6"}, "SECRET_KEY must be at least 32 characters long"),
    ({"SECRET_KEY": "change-me-to-something-long-and-random"}, "SECRET_KEY looks like a placeholder"),
    ({"SECRET_KEY": "test-secret-key-that-is-long-enough-1234"}, "SECRET_KEY looks like a placeholder"),
    ({"SECRET_KEY": "ab" * 20}, "SECRET_KEY is too predictable"),
    ({"DATABASE_URL": None}, "DATABASE_URL is required in production"),
    ({"DATABASE_URL": "sqlite:////srv/linli/linli.db"}, r"DATABASE_URL must be a PostgreSQL URL in production \(got sqlite\)"),
    ({"DATABASE_URL": "db.example:5432"}, "DATABASE_URL is not a database URL"),
    ({"DATABASE_URL": "postgresql://linli@db.example:5432"}, "DATABASE_URL names no database"),
    ({"LINLI_SECURE_COOKIES": "off"}, "LINLI_SECURE_COOKIES must be on in production"),
    ({"LINLI_SECURE_COOKIES": "maybe"}, "LINLI_SECURE_COOKIES must be true or false"),
    ({"LINLI_PAYMENT_GATEWAY": "paypal"}, "LINLI_PAYMENT_GATEWAY must be offline or stripe"),
    ({"LINLI_PAYMENT_GATEWAY": "stripe"}, "STRIPE_SECRET_KEY is missing"),
    ({"LINLI_PAYMENT_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_live_x"}, "STRIPE_WEBHOOK_SECRET is missing"),
    ({"LINLI_PROXY_HOPS": "-1"}, "LINLI_PROXY_HOPS must be 0 or more"),
    ({"LINLI_DB_POOL_SIZE": "0"}, "LINLI_DB_POOL_SIZE must be 1 or more"),
    ({"LINLI_DB_MAX_OVERFLOW": "-1"}, "LINLI_DB_MAX_OVERFLOW must be 0 or more"),
    ({"LINLI_DB_POOL_SIZE": "two"}, "LINLI_DB_POOL_SIZE must be a whole number"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m.split(" ")[0] + f"-{i}" for i, (_c, m) in enumerate(BAD)])
def test_each_bad_setting_stops_the_app_with_its_own_message(production, change, message):
    for name, value in change.items():
        if value is None:
            production.delenv(name)
        else:
            production.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as raised:
        create_app()
    assert len(raised.value.problems) == 1, raised.value.problems


def test_the_embedded_mode_key_is_refused_in_production(production, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text(KEY + "\n")
    with pytest.raises(ConfigError, match="SECRET_KEY is the embedded-mode key"):
        create_app()


def test_every_problem_is_named_at_once_one_line_each(production):
    production.delenv("SECRET_KEY")
    production.setenv("DATABASE_URL", "sqlite:///linli.db")
    production.setenv("LINLI_SECURE_COOKIES", "no")
    with pytest.raises(ConfigError) as raised:
        create_app()
    problems = raised.value.problems
    assert [p.split(" ")[0] for p in problems] == ["SECRET_KEY", "DATABASE_URL", "LINLI_SECURE_COOKIES"]
    assert str(raised.value).splitlines() == problems


def test_a_good_production_environment_starts(production):
    app = create_app()
    assert app.config["LINLI_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 2
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["max_overflow"] == 3
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert response.status_code == (200 if on_postgres() else 503)


def test_stripe_keys_billing_accepts_are_accepted_in_production(production):
    production.setenv("LINLI_PAYMENT_GATEWAY", "stripe")
    production.setenv("STRIPE_SECRET_KEY", "sk_live_51abc")
    production.setenv("STRIPE_WEBHOOK_SECRET", "whsec_abc")
    assert create_app().extensions["linli.gateway"].name == "stripe"


def test_behind_a_load_balancer_the_client_address_and_scheme_come_from_it(production):
    production.setenv("LINLI_PROXY_HOPS", "1")
    app = create_app()

    @app.get("/_test/whoami")
    def whoami():
        from flask import request

        return {"ip": request.remote_addr, "scheme": request.scheme}

    client = app.test_client()
    answer = client.get("/_test/whoami", environ_base={"REMOTE_ADDR": "10.0.0.2"},
                        headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}).json
    assert answer == {"ip": "203.0.113.7", "scheme": "https"}


def test_without_proxy_hops_forwarded_headers_are_not_believed(production):
    app = create_app()

    @app.get("/_test/whoami")
    def whoami():
        from flask import request

        return {"ip": request.remote_addr}

    answer = app.test_client().get("/_test/whoami", environ_base={"REMOTE_ADDR": "10.0.0.2"},
                                   headers={"X-Forwarded-For": "203.0.113.7"}).json
    assert answer == {"ip": "10.0.0.2"}


def test_serve_prints_one_line_per_problem_and_starts_nothing(capsys, tmp_path):
    env = {"SECRET_KEY": "short", "LINLI_WORKERS": "0", "LINLI_BIND": "8000", "PATH": os.environ["PATH"],
           "LINLI_INSTANCE_DIR": str(tmp_path), "LINLI_PUBLIC_URL": PUBLIC_URL}
    assert main(env) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "linli: SECRET_KEY must be at least 32 characters long (it has 5); generate one with: "
        "python3 -c 'import secrets; print(secrets.token_hex(32))'",
        "linli: DATABASE_URL is required in production, e.g. postgresql://linli:…@db.example:5432/linli",
        "linli: LINLI_WORKERS must be at least 1, got 0",
        "linli: LINLI_BIND must be host:port (e.g. 0.0.0.0:8000) or unix:/path, got '8000'",
        "linli: not started: 4 configuration problem(s); see docs/deploy.md",
    ]


def test_serve_says_in_one_line_when_the_database_cannot_be_reached(capsys, tmp_path):
    env = {"SECRET_KEY": KEY, "DATABASE_URL": NOWHERE, "PATH": os.environ["PATH"], "LINLI_PUBLIC_URL": PUBLIC_URL,
           "LINLI_INSTANCE_DIR": str(tmp_path), "LINLI_UPLOAD_DIR": str(tmp_path / "uploads")}
    before = dict(os.environ)
    assert main(env) == 1
    assert dict(os.environ) == before  # the test process's environment is left as it was
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("linli: could not migrate the database: "), err
    assert "port 1 failed" in err[0] or "refused" in err[0].lower(), err


def test_server_defaults_several_workers_capped_and_the_scheduler_on():
    settings, problems = server_settings({})
    assert problems == []
    assert settings["LINLI_WORKERS"] == min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS) >= 3
    assert settings["LINLI_BIND"] == "127.0.0.1:8000" and settings["LINLI_SCHEDULER"] is True
    settings, problems = server_settings({"LINLI_SCHEDULER": "off", "LINLI_WORKERS": "4"})
    assert (settings["LINLI_SCHEDULER"], settings["LINLI_WORKERS"], problems) == (False, 4, [])


def test_the_database_pool_is_sized_from_the_environment(production):
    production.setenv("LINLI_DB_POOL_SIZE", "1")
    production.setenv("LINLI_DB_MAX_OVERFLOW", "0")
    options = create_app().config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["max_overflow"]) == (1, 0)


def test_when_one_process_dies_serve_stops_the_other_and_fails(monkeypatch, tmp_path, capsys):
    """gunicorn cannot start (say, the port is taken): the scheduler must not run on alone."""
    from app import serve

    ready, marker = tmp_path / "scheduler-ready", tmp_path / "scheduler-stopped"
    scheduler = ("import signal, sys, time\n"
                 f"def stop(*_): open({str(marker)!r}, 'w').close(); sys.exit(0)\n"
                 "signal.signal(signal.SIGINT, stop)\n"
                 f"open({str(ready)!r}, 'w').close()\n"
                 "while True: time.sleep(0.05)\n")
    gunicorn = ("import os, sys, time\n"  # dies once the scheduler is up (bounded wait)
                "deadline = time.monotonic() + 10\n"
                f"while not os.path.exists({str(ready)!r}) and time.monotonic() < deadline: time.sleep(0.02)\n"
                "sys.exit(3)\n")
    monkeypatch.setattr(serve, "commands", lambda settings: {
        "gunicorn": [sys.executable, "-c", gunicorn],
        "scheduler": [sys.executable, "-c", scheduler],
    })
    started = time.monotonic()
    assert serve.run({"LINLI_BIND": "127.0.0.1:1"}, dict(os.environ)) == 1
    assert time.monotonic() - started < 10
    assert marker.exists()  # stopped with SIGINT, as Ctrl-C would
    assert "linli: gunicorn exited with status 3; stopping the rest" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        # Generous: a worker's first request builds the app, which is slow on a busy machine.
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.skipif(not on_postgres(), reason="production mode runs on PostgreSQL only")
def test_serve_migrates_an_empty_database_serves_with_gunicorn_and_stops_on_ctrl_c(tmp_path_factory, tmp_path):
    url = scratch_database(tmp_path_factory, "serve")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k not in SETTINGS}, "DATABASE_URL": url,
           "SECRET_KEY": secrets.token_hex(32), "LINLI_BIND": f"127.0.0.1:{port}", "LINLI_WORKERS": "2",
           "LINLI_PUBLIC_URL": PUBLIC_URL, "LINLI_TRUSTED_HOSTS": "127.0.0.1",
           "LINLI_INSTANCE_DIR": str(tmp_path / "instance"), "LINLI_UPLOAD_DIR": str(tmp_path / "uploads")}
    # Appended to by serve and its children (O_APPEND), and read through its own handle: a
    # seek on the children's shared file description would make them overwrite the start.
    log_path = tmp_path / "serve.log"
    log = log_path.open("a")
    serve = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                health = get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)  # not up yet: poll again until the deadline
        assert health is not None and health[0] == 200, log_path.read_text()[-3000:]
        assert '"database":true' in health[1] and '"status":"ok"' in health[1] and '"writable":true' in health[1]
        status, home = get(f"{base}/")
        assert status == 200 and "<html" in home
        # The scheduler starts beside gunicorn, which may answer first: wait for its line.
        while time.monotonic() < deadline and "Linli scheduler running" not in log_path.read_text():
            time.sleep(0.1)  # the scheduler is still loading: look again until the deadline
    finally:
        serve.send_signal(signal.SIGINT)
        code = serve.wait(timeout=40)
    log.close()
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    # Both children were started, announced, and are gone.
    started = next(line for line in output.splitlines() if "gunicorn pid" in line)
    pids = [int(word.rstrip(",;")) for word in started.split() if word.rstrip(",;").isdigit()]
    assert len(pids) == 2, started
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "Linli scheduler running" in output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        assert conn.scalar(sa.text("SELECT count(*) FROM provider")) == 0
    engine.dispose()
