"""Pytest fixtures for Stripe peers: the local stub (tests/stripe_stub.py) and localstripe.

Use them from a test module with ``from tests.stripe_fixtures import stripe_stub  # noqa: F401``
(or ``pytest_plugins``-free import of the fixtures you need).

- ``stripe_stub_server`` (session): one running :class:`StripeStub`.
- ``stripe_stub`` (function): the same server, its records cleared before each test.
- ``localstripe`` (session): ``localstripe --port <free port> --from-scratch`` as a subprocess;
  yields its base URL ("http://127.0.0.1:<port>").
- ``configure_localstripe_webhook(base, url, secret)``: localstripe POSTs its signed events to ``url``.
- ``localstripe_app(tmp_path_factory, base, suffix)``: a Linli app on a scratch database (real
  commits, for threads and live servers) with the Stripe gateway pointed at localstripe.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.stripe_stub import StripeStub


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def stripe_stub_server():
    with StripeStub() as stub:
        yield stub


@pytest.fixture
def stripe_stub(stripe_stub_server):
    stripe_stub_server.reset()
    yield stripe_stub_server
    stripe_stub_server.reset()


def _localstripe_command() -> list[str]:
    beside = Path(sys.executable).with_name("localstripe")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("localstripe")
    if found:
        return [found]
    return [sys.executable, "-m", "localstripe"]


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """A fresh localstripe on a free loopback port (state in memory only)."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("localstripe") / "localstripe.log", "wb")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [*_localstripe_command(), "--port", str(port), "--from-scratch"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/v1/customers", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # it answers (401 without a key): it is up
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"localstripe did not start (see {log.name})")
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def configure_localstripe_webhook(base: str, url: str, secret: str, hook_id: str = "linli") -> None:
    """Make localstripe POST its signed events to ``url`` (``POST /_config/webhooks/<id>``);
    registering the same id again replaces the endpoint (localstripe cannot delete one)."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    urllib.request.urlopen(f"{base}/_config/webhooks/{hook_id}", data=data, timeout=5).close()


def localstripe_app(tmp_path_factory, base: str, suffix: str, **config):
    """A Linli app on a scratch database (really committed: threads and a live server see the
    data), migrated, with the Stripe gateway pointed at localstripe ``base``."""
    from flask_migrate import upgrade

    from app import create_app
    from app.clock import FrozenClock
    from tests.billing_helpers import WEBHOOK_SECRET
    from tests.conftest import START, scratch_database

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, suffix),
        "UPLOAD_DIR": str(tmp_path_factory.mktemp(f"{suffix}-uploads")),
        "SECRET_KEY": f"{suffix}-test-secret-key-long-enough-12345",
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1,
        "CLOCK": FrozenClock(START),
        "LINLI_PAYMENT_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_test_linli",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": base,
        **config,
    })
    with app.app_context():
        upgrade()
    return app


DELIVERY_SECONDS = 20  # localstripe waits 1 s before each delivery


@contextmanager
def served_webhook(app, localstripe):
    """``app`` served on a loopback port and registered as localstripe's webhook endpoint;
    yields the endpoint's URL."""
    from werkzeug.serving import make_server

    from tests.billing_helpers import WEBHOOK_SECRET

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/billing/stripe/webhook"
    configure_localstripe_webhook(localstripe, url, WEBHOOK_SECRET)
    try:
        yield url
    finally:
        # localstripe cannot forget an endpoint: point ours at a closed port.
        configure_localstripe_webhook(localstripe, "http://127.0.0.1:9/gone", "whsec_gone")
        server.shutdown()
        thread.join(5)


def wait_for_delivery(condition, what: str):
    """Poll ``condition()`` (each try in a fresh transaction, to see what the server committed)
    until it is true or localstripe's delivery deadline has passed."""
    from app.extensions import db

    deadline = time.monotonic() + DELIVERY_SECONDS
    while True:
        db.session.rollback()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"localstripe's {what} was not applied within {DELIVERY_SECONDS} s")
        time.sleep(0.05)
