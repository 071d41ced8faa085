"""Pytest fixtures for Stripe peers: the local stub (tests/stripe_stub.py) and localstripe.

Use them from a test module with ``from tests.stripe_fixtures import stripe_stub  # noqa: F401``
(or ``pytest_plugins``-free import of the fixtures you need).

- ``stripe_stub_server`` (session): one running :class:`StripeStub`.
- ``stripe_stub`` (function): the same server, its records cleared before each test.
- ``localstripe`` (session): ``localstripe --port <free port> --from-scratch`` as a subprocess;
  yields its base URL ("http://127.0.0.1:<port>").
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
