"""Steps of the browser journeys: one person at one window, in one language.

``Journey`` opens a fresh browser context of a size (a phone or a desktop), picks the language with
the site's own switch, and records each step: after every navigation or action ``step(name)``
runs axe-core on the page (no serious or critical violation), in Chinese checks that the page shows
no untranslated English message and no raw code (``tests/browser/untranslated.py``), and saves a screenshot as
``test-artifacts/journeys/<role>-<lang>-<size>/NN-name.png``.  ``say(msgid)`` is what the app
itself says for a message in the journey's language (its own catalogue), so outcomes are asserted
as the person reads them.
"""

from __future__ import annotations

import re
import shutil
import time
from urllib.parse import urlsplit

from flask_babel import force_locale, gettext
from playwright.sync_api import expect

from providers.demo import DEMO_PASSWORD
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS
from tests.browser.untranslated import assert_translated, stored_codes

SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
LANGUAGES = ("zh", "en")
# Every journey once per language and window size.
RUNS = [(lang, size) for lang in LANGUAGES for size in SIZES]
SUBMIT = "button[type=submit]"
ANY = object()  # a message parameter whose value the test does not pin
_MARK = 9876543210  # stands in for it: fits both %(x)s and %(x)d


def log_in(page, base: str, phone: str, password: str = DEMO_PASSWORD) -> None:
    """Log in on the page (demo accounts by default)."""
    page.goto(base + "/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/login"):
        page.locator(f"main form.stack {SUBMIT}").click()


def act(page, action: str) -> None:
    """Press the button of the form posting to ``…/<action>`` and wait for the server's
    answer and its message (a message already on the page must not end the wait before
    the post has been handled: a test that moves the clock next would race it)."""
    with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(f"/{action}")):
        page.locator(f"form[action$='/{action}'] {SUBMIT}").click()
    expect(page.locator(".flash").first).to_be_visible()


def desktop(browser):
    """A new desktop-sized window (Chinese), for a second person in a test."""
    width, height = SIZES["desktop"]
    return browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()


class Journey:
    """A person's browser window through one journey."""

    def __init__(self, browser, base: str, app, role: str, lang: str, size: str):
        width, height = SIZES[size]
        self.base, self.app, self.lang, self.size = base, app, lang, size
        self.name = f"{role}-{lang}-{size}"
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.folder = ARTIFACTS / "journeys" / self.name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.steps = 0
        self.codes: frozenset[str] | None = None
        self.started = time.monotonic()

    def __enter__(self) -> Journey:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self.page.screenshot(path=str(self.folder / "failed.png"), full_page=True)
            shown = self.page.locator("main .error, main .flash-error").all_inner_texts()
            if shown:
                print(f"{self.name}: the page says {shown}")
        self.context.close()
        print(f"{self.name}: {self.steps} steps in {time.monotonic() - self.started:.1f} s")

    # --- recording ---------------------------------------------------------------

    def step(self, name: str) -> None:
        """The page after a navigation or an action: accessible, and kept as a screenshot."""
        self.page.wait_for_load_state("load")
        self.steps += 1
        where = f"{self.name} step {self.steps} ({name}) at {self.page.url}"
        assert_accessible(self.page, where)
        if self.lang == "zh":
            assert_translated(self.page, where, self._codes())
        self.page.screenshot(path=str(self.folder / f"{self.steps:02d}-{name}.png"), full_page=True)
        # Headless Chromium can keep a stale scroll offset after a full-page screenshot of a tall
        # page, so the next click lands beside its target; scrolling once puts it right.
        self.page.evaluate("() => window.scrollTo(0, 0)")

    def _codes(self) -> frozenset[str]:
        """The live database's category and community codes (read once per journey)."""
        if self.codes is None:
            with self.app.app_context():
                from app.extensions import db

                self.codes = stored_codes(db.session)
        return self.codes

    def say(self, msgid, **params) -> str:
        """The message (an English msgid, or a label the app keeps as a lazy string) as the app
        shows it in this journey's language."""
        with self.app.test_request_context(), force_locale(self.lang):
            return gettext(msgid, **params) if isinstance(msgid, str) else str(msgid)

    # --- moving about ------------------------------------------------------------

    def open(self, path: str, name: str | None = None) -> None:
        self.page.goto(self.base + path)
        if name:
            self.step(name)

    def choose_language(self) -> None:
        """The home page, in Chinese by default; English through the switch in the header."""
        self.open("/")
        if self.lang == "en":
            self.page.locator("button[name=lang][value=en]").click()
        expect(self.page.locator("html")).to_have_attribute("lang", "en" if self.lang == "en" else "zh-CN")
        self.step("home")

    def log_in(self, phone: str, password: str = DEMO_PASSWORD) -> None:
        self.open("/login")
        self.page.fill("input[name=phone]", phone)
        self.page.fill("input[name=password]", password)
        self.step("log-in")
        self.page.locator(f"main form.stack {SUBMIT}").click()
        expect(self.page.locator("#nav-notifications")).to_be_visible()

    def submit(self, form: str = "main form.stack") -> None:
        self.page.locator(form).locator(SUBMIT).first.click()

    def follow(self, link: str) -> None:
        self.page.locator(link).first.click()

    # --- what the person reads ---------------------------------------------------

    def expect_flash(self, msgid: str, **params) -> None:
        """A success message; a parameter given as ``ANY`` may read anything."""
        marked = self.say(msgid, **{k: _MARK if v is ANY else v for k, v in params.items()})
        expected = re.compile(".+?".join(re.escape(part) for part in marked.split(str(_MARK))))
        expect(self.page.locator(".flash-success")).to_contain_text(expected)

    def expect_badge(self, locator: str, status: str, label: str) -> None:
        """A status badge: its class names the state, its text says it in the page's language."""
        badge = self.page.locator(locator)
        expect(badge).to_have_class(re.compile(rf"\bbadge-{status}\b"))
        expect(badge).to_have_text(self.say(label))

    def expect_url(self, pattern: str) -> int | None:
        """Wait for the address; returns the number it ends with, if any."""
        expect(self.page).to_have_url(re.compile(pattern))
        last = self.page.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        return int(last) if last.isdigit() else None
