"""Catalogue searches kept for a short while, and dropped at once when the catalogue changes.

Most catalogue traffic is the same few searches ("保洁" in one community), and
their answer changes only when a listing, a provider, a community or a category
does.  So:

- every transaction that changes one of those moves the one-row catalogue
  generation (``CatalogueGeneration``) on, just before it commits — last, so it
  holds that row's lock for a moment and never waits for another lock while
  holding it;
- an answer (the API's JSON bytes, or the page's rendered body) is kept in the
  worker's memory under (generation, kind, locale, the request's search) for
  ``CATALOGUE_CACHE_SECONDS`` (30 by default; 0 turns the cache off), at most
  ``CATALOGUE_CACHE_ENTRIES`` answers (least recently used dropped first);
- the generation is read (one small read) *before* searching, so an answer
  computed from older data can only be filed under an older generation.  A
  worker reads it again after its own process commits a catalogue change (so
  its next request sees the change), and otherwise at most every
  ``CATALOGUE_CHECK_MS`` (1000): a change committed elsewhere — another worker,
  another machine, the scheduler — is seen within a second.  Between reads a
  cached answer costs no database work at all.

The one thing that changes the catalogue without a write is time: a supervision
suspension ends by itself, and the provider takes bookings again
(``Provider.takes_bookings_at``).  So the key also holds the next such moment
(``Provider.next_resumption_after``: the same read, through an index); once it
passes, the key changes.  Rating changes move the generation (they re-order results and change
the stars shown).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale
from sqlalchemy.orm import Session

from app.clock import now
from app.models import Community
from providers.models import CatalogueGeneration, Listing, Provider, ServiceCategory

WATCHED = (Listing, Provider, Community, ServiceCategory)
_CHANGED = "linli.catalogue_changed"
MAX_KEY_CHARS = 600  # longer query strings are answered, not cached


def _touches_catalogue(session: Session) -> bool:
    return any(isinstance(obj, WATCHED) for obj in itertools.chain(session.new, session.dirty, session.deleted))


@sa.event.listens_for(Session, "before_flush")
def _note_change(session, _flush_context, _instances) -> None:
    if not session.info.get(_CHANGED) and _touches_catalogue(session):
        session.info[_CHANGED] = True


_local_commit = 0  # moves when this process commits a catalogue change


@sa.event.listens_for(Session, "before_commit")
def _move_generation(session) -> None:
    if session.info.get(_CHANGED) or _touches_catalogue(session):
        session.info[_CHANGED] = "committing"
        session.execute(
            sa.update(CatalogueGeneration)
            .where(CatalogueGeneration.id == 1)
            .values(value=CatalogueGeneration.value + 1)
        )


@sa.event.listens_for(Session, "after_commit")
def _note_local_commit(session) -> None:
    global _local_commit
    if session.info.get(_CHANGED) == "committing":
        _local_commit += 1


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_change(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        session.info.pop(_CHANGED, None)


def generation(session: Session) -> tuple[int, object]:
    """The catalogue's generation and the next moment a suspension lifts itself
    (None if none will): together they say whether a cached answer still holds."""
    next_lift = Provider.next_resumption_after(now())
    row = session.execute(
        sa.select(CatalogueGeneration.value, next_lift).where(CatalogueGeneration.id == 1)
    ).first()
    return (row[0], row[1]) if row else (0, None)


class SearchCache:
    """A small least-recently-used map whose entries expire (thread-safe)."""

    def __init__(self, seconds: float, entries: int, clock: Callable[[], float] = time.monotonic,
                 check_seconds: float = 1.0):
        self.seconds = seconds
        self.entries = entries
        self.clock = clock
        self.check_seconds = check_seconds
        self._data: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation: tuple[int, object] | None = None
        self._generation_read = (float("-inf"), -1)  # (clock, local commit) when read
        self.hits = self.misses = 0

    def generation(self, session: Session) -> tuple[int, object]:
        """The generation read at most every ``check_seconds``, and again after this
        process committed a catalogue change or the next suspension end passed."""
        known = self._generation
        read_at, commit_seen = self._generation_read
        if (known is None or commit_seen != _local_commit or self.clock() - read_at >= self.check_seconds
                or (known[1] is not None and now() >= known[1])):
            commit_seen = _local_commit
            known = generation(session)
            self._generation, self._generation_read = known, (self.clock(), commit_seen)
        return known

    def get(self, key: Hashable):
        with self._lock:
            found = self._data.get(key)
            if found is None or found[0] <= self.clock():
                if found is not None:
                    del self._data[key]
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._data[key] = (self.clock() + self.seconds, value)
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _cache() -> SearchCache | None:
    seconds = current_app.config.get("CATALOGUE_CACHE_SECONDS", 0)
    if seconds <= 0:
        return None
    cache = current_app.extensions.get("linli.catalogue_cache")
    if cache is None:
        cache = current_app.extensions["linli.catalogue_cache"] = SearchCache(
            seconds, current_app.config.get("CATALOGUE_CACHE_ENTRIES", 512),
            check_seconds=current_app.config.get("CATALOGUE_CHECK_MS", 1000) / 1000,
        )
    return cache


def cached(session: Session, kind: str, search: Hashable, compute: Callable[[], object]):
    """``compute()``'s answer for this search, from the cache when it is current.

    ``search`` must hold everything the answer depends on besides the catalogue's
    data and the locale (which are added here).
    """
    cache = _cache()
    if cache is None or len(repr(search)) > MAX_KEY_CHARS:
        return compute()
    key = (*cache.generation(session), kind, str(get_locale()), search)
    answer = cache.get(key)
    if answer is None:
        answer = compute()
        cache.put(key, answer)
    return answer
