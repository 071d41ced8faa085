"""Browser tests: Playwright driving Debian's Chromium against a live server.

The live server is a real Linli app in a background thread on a free loopback
port, with its own database (SQLite file, or ``<test db>_live`` on PostgreSQL),
migrated and loaded with the demo data, so these tests see what `make run`
shows.  Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.clock import FrozenClock, SystemClock
from app.extensions import db
from tests.conftest import scratch_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """A Linli app with the demo data and a clock the tests can move."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser-deps`")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "live"),
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("live-uploads")),
            "SECRET_KEY": "browser-test-secret-key-long-enough-123",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST_KIB": 1024,
            "ARGON2_PARALLELISM": 1,
            "CLOCK": FrozenClock(SystemClock().now()),
        }
    )
    with app.app_context():
        upgrade()
        from providers.carers.demo import load_demo as load_carers
        from providers.demo import load_demo

        from ratings.demo import load_history

        load_demo(db.session)
        load_carers(db.session)  # every demo provider's roster: accepting a booking names a carer
        load_history(db.session)
        db.session.commit()
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    """Base URL of the running live app."""
    app = live_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def live_clock(live_app):
    """The live app's clock; put back to the real time after the test."""
    clock = live_app.extensions["linli.clock"]
    yield clock
    clock.set(SystemClock().now())


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (phone-sized unless the test says otherwise)."""
    marker = request.node.get_closest_marker("viewport")
    width, height = marker.args if marker else (390, 844)
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.no_db_session)
