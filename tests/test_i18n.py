"""The Simplified-Chinese catalogue: complete, placeholders intact, up to date
with the code, and actually used by the pages.

``make test`` compiles the .mo files before pytest runs (target
``translations``).  When this file is run directly, a missing or stale .mo is
compiled here, at collection time, before any test renders a page (Flask-Babel
caches the translations it loads).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
ZH_PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
ZH_MO = ZH_PO.with_suffix(".mo")
# The venv's own pybabel, next to the interpreter running the tests.
PYBABEL = str(Path(sys.executable).with_name("pybabel"))

# A printf-style conversion: "%(name)s", "%(n)d", "%s", "%%" (a literal percent sign).
CONVERSION_RE = re.compile(r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?P<type>[a-zA-Z%])")
VALID_TYPES = set("diouxXeEfFgGcrsa%")


def _compile_stale_catalogues() -> None:
    """Compile every .po whose .mo is missing or older, as the Makefile does."""
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
        try:
            subprocess.run(
                [PYBABEL, "compile", "--use-fuzzy", "-i", str(po), "-o", str(tmp)],
                cwd=ROOT, check=True, capture_output=True, text=True,
            )
            os.replace(tmp, mo)  # atomic: a parallel run never reads half a file
        finally:
            tmp.unlink(missing_ok=True)


_compile_stale_catalogues()


def _read(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _conversions(text: str) -> set[tuple[str | None, str]]:
    """The placeholders of a string as (name, type); "%%" is not one."""
    return {(m["name"], m["type"]) for m in CONVERSION_RE.finditer(text) if m["type"] != "%"}


def _has_stray_percent_sign(text: str) -> bool:
    """A percent sign that is neither "%%" nor the start of a valid conversion."""
    rest = CONVERSION_RE.sub(lambda m: "" if m["type"] in VALID_TYPES else m[0], text)
    return "%" in rest


def _forms(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


@pytest.fixture(scope="module")
def zh_catalog():
    return _read(ZH_PO)


@pytest.fixture
def zh(client):
    """A visitor with no language cookie: the default language, Chinese."""
    return client


# --- (a) the catalogue is complete and keeps every placeholder ---------------


def test_zh_catalogue_has_one_plural_form(zh_catalog):
    assert dict(zh_catalog.mime_headers).get("Plural-Forms") == "nplurals=1; plural=0;"
    assert zh_catalog.num_plurals == 1


def test_every_zh_message_is_translated_and_not_fuzzy(zh_catalog):
    untranslated, fuzzy = [], []
    for message in zh_catalog:
        if not message.id:
            continue  # the header
        strings = _forms(message.string)
        if message.pluralizable and len(strings) != zh_catalog.num_plurals:
            untranslated.append(message.id)
        elif not all(s and s.strip() for s in strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"{len(untranslated)} untranslated: {untranslated[:20]}"
    assert not fuzzy, f"fuzzy entries (review them, then remove the flag): {fuzzy[:20]}"


def test_zh_translations_keep_the_placeholders(zh_catalog):
    problems = []
    for message in zh_catalog:
        if not message.id:
            continue
        expected = set().union(*(_conversions(i) for i in _forms(message.id)))
        for translated in _forms(message.string):
            if _conversions(translated) != expected:
                problems.append((message.id, translated))
            elif _has_stray_percent_sign(translated):
                problems.append((message.id, translated))
            elif any(("%%" in i) != ("%%" in translated) for i in _forms(message.id)):
                problems.append((message.id, translated))
    assert not problems, "\n".join(f"{i!r} -> {s!r}" for i, s in problems)


def test_zh_catalogue_passes_babels_own_checks(zh_catalog):
    errors = [(message.id, [str(e) for e in errs]) for message, errs in zh_catalog.check()]
    assert not errors, errors


def test_zh_translations_keep_leading_and_trailing_whitespace(zh_catalog):
    problems = []
    for message in zh_catalog:
        if not message.id:
            continue
        source = _forms(message.id)[0]
        for translated in _forms(message.string):
            same_start = source[:1].isspace() == translated[:1].isspace()
            same_end = source[-1:].isspace() == translated[-1:].isspace()
            if not (same_start and same_end):
                problems.append(message.id)
    assert not problems, problems


def test_compiled_zh_catalogue_is_current():
    assert ZH_MO.exists(), "run `make translations`"
    assert ZH_MO.stat().st_mtime >= ZH_PO.stat().st_mtime, "run `make translations`"


# --- (b) the catalogue holds every message the code uses ---------------------


def test_every_message_in_the_code_is_in_the_zh_catalogue(tmp_path, zh_catalog):
    pot = tmp_path / "messages.pot"
    # The same options as the Makefile's `extract-messages` target.
    result = subprocess.run(
        [PYBABEL, "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    extracted = _read(pot)

    known = {message.id for message in zh_catalog if message.id}
    missing = [
        f"{message.id!r} ({', '.join(f'{f}:{n}' for f, n in message.locations[:2])})"
        for message in extracted
        if message.id and message.id not in known
    ]
    assert len(extracted) > 1, "pybabel extract found no messages"
    assert not missing, (
        f"{len(missing)} message(s) in the code are not in {ZH_PO.relative_to(ROOT)}; "
        "run `make extract-messages` and translate them:\n" + "\n".join(missing[:30])
    )


# --- (c) the pages use the catalogue -----------------------------------------


def test_home_page_is_chinese_by_default(zh):
    response = zh.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    for chinese in ("登录", "注册", "查找服务", "邻里社区服务", "大字模式"):
        assert chinese in page, chinese
    for english in (">Log in<", ">Sign up<", "Find services", "Large text", "Services for your neighbourhood"):
        assert english not in page, english


def test_home_page_is_english_with_the_language_cookie(en):
    response = en.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    for english in ("Log in", "Sign up", "Find services", "Large text", "Services for your neighbourhood"):
        assert english in page, english
    assert "登录" not in page and "查找服务" not in page


# --- (d) no English left on a Chinese page -----------------------------------


def _visible_text(page: str) -> str:
    """Text a reader sees or hears: element text plus placeholder and label attributes."""
    body = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    attributes = re.findall(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"', body)
    text = re.sub(r"(?s)<[^>]+>", " ", body)
    return html.unescape(" ".join([text, *attributes]))


def test_catalogue_page_in_chinese_has_no_untranslated_navigation(zh, zh_catalog):
    response = zh.get("/catalogue")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "查找服务" in page
    text = _visible_text(page)
    for english in ("Find services", "Log in", "Sign up", "For providers", "Search", "Apply filters",
                    "All categories", "All communities", "Sort by", "Large text", "Display settings"):
        assert english not in text, english
    # No English sentence from the catalogue shows up either (short words
    # such as "Main" could occur inside other text, so only phrases count).
    leaked = [
        message.id
        for message in zh_catalog
        if isinstance(message.id, str) and " " in message.id and "%" not in message.id and message.id in text
    ]
    assert not leaked, leaked
