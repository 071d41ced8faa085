"""What a Chinese page must not show: an English message left untranslated, or a raw code.

``findings(text)`` reads the visible text of a page (``document.body.innerText``) and returns
what gives it away, each as a short description:

* a message of the catalogue (an English msgid of two words or more, or the literal part of one
  around its ``%(x)s`` placeholders) standing verbatim in the text: it was not translated;
* else any run of three English words or more (a message not even in the catalogue yet);
* a code: an audit action ``word.word`` (``subsidy_claim.filed``), a ``snake_case`` word
  (``resident_clearing``), or a lone lowercase word that is the value of one of the app's
  enumerations (``published``, ``in_service``, ``cli``), or a code the database keeps for its
  categories and communities (``housekeeping``, ``zichuan-chengli``: :func:`stored_codes`).

What legitimately reads like that is taken out first (:data:`ALLOWED`): e-mail addresses, web
addresses, file names, the brand "Linli", the column names of the CSV uploads, and whatever the
page marks ``translate="no"``.  ``assert_translated(page)`` runs it in the browser;
``Steps.step`` calls it on every page of a Chinese journey.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).resolve().parents[2] / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"

# Legitimate text that looks like a code or like English, removed before looking.
ALLOWED = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"\b(https?://|www\.)\S+"),  # web addresses
    re.compile(r"\b[\w-]+\.(pdf|png|jpe?g|webp|gif|csv|txt|md|docx?|xlsx?)\b", re.I),  # file names
    re.compile(r"\b[\w-]+\.(example|test|local|cn|com|org)\b"),  # host names
    re.compile(r"\bLinli\b"),
]
CODE = re.compile(r"\b[a-z][a-z_]*[a-z]\.[a-z][a-z_.]*[a-z]\b")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
WORD = re.compile(r"(?<![\w./@-])[a-z][a-z_]+(?![\w/@-]|\.\w)")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%|%[sd]")
# A sentence of English: three words or more in a row (a message missing from the catalogue).
ENGLISH_RUN = re.compile(r"(?<![\w.])[A-Za-z][a-z'’]*(?:[ ,:]+[A-Za-z][a-z'’]*){2,}")
# Column names of the CSV files officials upload: the file must use them as they are.
CSV_COLUMNS = {"phone", "birth_date", "lives_alone", "low_income", "disability"}
# English words, at least two of them in a row, in a message fragment.
ENGLISH_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ ,]+[A-Za-z][A-Za-z'’-]*)+")


@functools.cache
def catalogue_phrases() -> tuple[str, ...]:
    """The English phrases of the catalogue worth looking for: each msgid's literal fragments
    (between placeholders) of two words or more, longest first."""
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="zh")
    phrases, kept = set(), []
    for message in catalogue:
        if not message.id:
            continue
        for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
            for part in PLACEHOLDER.split(msgid):
                for run in ENGLISH_WORDS.findall(part):
                    run = run.strip(" ,")
                    if len(run.split()) >= 2:
                        phrases.add(run)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        kept.extend(s for s in strings if s)
    # A phrase the Chinese itself keeps (a product name) is not a sign of a missing translation.
    translated = "\n".join(kept)
    phrases = {p for p in phrases if p not in translated}
    return tuple(sorted(phrases, key=len, reverse=True))


@functools.cache
def _phrase_pattern() -> re.Pattern:
    return re.compile(r"(?<![A-Za-z])(" + "|".join(re.escape(p) for p in catalogue_phrases()) + r")(?![A-Za-z])")


def _enum_classes(cls=StrEnum):
    for sub in cls.__subclasses__():
        yield sub
        yield from _enum_classes(sub)


def enum_values() -> frozenset[str]:
    """The values of every string enumeration the app has loaded (statuses, kinds…), plus the
    stored codes that are not enumerations (how a supervision run was started)."""
    values = {str(member.value) for cls in _enum_classes() for member in cls if isinstance(member.value, str)}
    values |= {"cli", "scheduler"}
    return frozenset(v for v in values if re.fullmatch(r"[a-z][a-z_]+", v))


def _cleaned(text: str) -> str:
    for pattern in ALLOWED:
        text = pattern.sub(" ", text)
    return text


def stored_codes(session) -> frozenset[str]:
    """The codes the database keeps for its rows of reference data: service categories
    (``housekeeping``) and communities (``zichuan-chengli``)."""
    import sqlalchemy as sa

    from app.models import Community
    from providers.models import ServiceCategory

    return frozenset([*session.scalars(sa.select(ServiceCategory.code)), *session.scalars(sa.select(Community.code))])


def findings(text: str, values: frozenset[str] | None = None, codes: frozenset[str] = frozenset()) -> list[str]:
    """What in this Chinese page's text is untranslated English or a raw code (empty: none);
    ``codes`` are more codes to look for (:func:`stored_codes`)."""
    text = _cleaned(text)
    values = (enum_values() if values is None else values) | codes
    found: list[str] = []
    for code in sorted(c for c in codes if "-" in c):  # a hyphenated code is no word to the patterns
        if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text):
            found.append(f"raw code {code!r}")
    for match in _phrase_pattern().finditer(text):
        found.append(f"untranslated message {match.group(1)!r}")
    if not found:
        for match in ENGLISH_RUN.finditer(text):
            found.append(f"English text {match.group(0)!r}")
    for match in CODE.finditer(text):
        found.append(f"raw code {match.group(0)!r}")
    rest = CODE.sub(" ", text)
    for match in SNAKE.finditer(rest):
        if match.group(0) in CSV_COLUMNS:
            continue
        found.append(f"raw code {match.group(0)!r}")
    rest = SNAKE.sub(" ", rest)
    for match in WORD.finditer(rest):
        if match.group(0) in values:
            found.append(f"raw value {match.group(0)!r}")
    return list(dict.fromkeys(found))


# The page's visible text, less what it marks as not to be translated (``translate="no"``: a code
# a person must type as it is).
_VISIBLE = """() => {
  let text = document.body.innerText;
  for (const kept of document.querySelectorAll('[translate=no]')) text = text.split(kept.innerText).join(' ');
  return text;
}"""


def visible_text(page) -> str:
    return page.evaluate(_VISIBLE)


def assert_translated(page, where: str = "", codes: frozenset[str] = frozenset()) -> None:
    """Fail when the Chinese page shows an untranslated message or a raw code."""
    found = findings(visible_text(page), codes=codes)
    assert not found, f"untranslated text on the Chinese page {where or page.url}:\n  " + "\n  ".join(found)
