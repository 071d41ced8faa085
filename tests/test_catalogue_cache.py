"""The catalogue cache (providers/catalogue_cache.py): repeated searches are
answered from memory, and any committed change to what the catalogue shows —
or a suspension running out — is seen by the very next search."""

from __future__ import annotations


import pytest
import sqlalchemy as sa

from app.extensions import db
from providers import catalogue_cache, sanctions
from providers.catalogue_cache import SearchCache
from providers.models import ListingStatus
from tests import factories
from tests.test_catalogue import counting_queries


class Ticks:
    """The cache's monotonic clock, moved by hand."""

    def __init__(self):
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def ticks(app):
    return Ticks()


@pytest.fixture
def cache(app, ticks):
    """The cache turned on, empty, for this test only."""
    app.config["CATALOGUE_CACHE_SECONDS"] = 30
    app.extensions["linli.catalogue_cache"] = SearchCache(30, 512, clock=ticks, check_seconds=1.0)
    yield
    app.config["CATALOGUE_CACHE_SECONDS"] = 0
    app.extensions.pop("linli.catalogue_cache", None)


def _stats(app) -> tuple[int, int]:
    cache = app.extensions["linli.catalogue_cache"]
    return cache.hits, cache.misses


def _titles(client, **params) -> list[str]:
    response = client.get("/api/v1/catalogue", query_string={"all_communities": "true", **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["title"] for item in response.get_json()["items"]]


def test_a_repeated_search_is_answered_from_memory_without_the_database(app, client, cache, ticks):
    factories.listing(title="上门保洁甲")
    assert _titles(client, q="保洁") == ["上门保洁甲"]
    with counting_queries() as statements:
        assert _titles(client, q="保洁") == ["上门保洁甲"]
    assert _stats(app) == (1, 1) and statements == []
    ticks.value += 1  # a second later the generation is read again (one small read)
    with counting_queries() as statements:
        assert _titles(client, q="保洁") == ["上门保洁甲"]
    assert len(statements) == 1 and "catalogue_generation" in statements[0]


def test_a_change_committed_by_another_process_is_seen_within_a_second(client, cache, ticks):
    item = factories.listing(title="上门保洁己")
    assert _titles(client, q="保洁") == ["上门保洁己"]
    # Another worker's commit: plain SQL, so this process's ORM hooks never see it.
    db.session.execute(sa.text("UPDATE listing SET status = 'paused' WHERE id = :id"), {"id": item.id})
    db.session.execute(sa.text("UPDATE catalogue_generation SET value = value + 1"))
    assert _titles(client, q="保洁") == ["上门保洁己"]  # within the second: the kept answer
    ticks.value += 1
    assert _titles(client, q="保洁") == []


def test_the_page_body_is_cached_but_the_shell_is_per_visitor(app, client, auth, en, cache):
    factories.listing(title="上门保洁乙")
    first = client.get("/catalogue?q=保洁").get_data(as_text=True)
    resident = factories.resident()
    auth.login(resident)
    second = client.get("/catalogue?q=保洁&community=all").get_data(as_text=True)
    third = client.get("/catalogue?q=保洁&community=all").get_data(as_text=True)
    assert "上门保洁乙" in first and "上门保洁乙" in third
    assert "My bookings" in third and "My bookings" not in first  # the shell is the visitor's
    assert "You are logged in." in second and "You are logged in." not in third  # flashes too
    assert _stats(app)[0] == 1


@pytest.mark.parametrize("change", ["pause", "retitle", "provider_suspended"])
def test_a_committed_change_is_seen_by_the_next_search(client, cache, change):
    item = factories.listing(title="上门保洁丙")
    assert _titles(client, q="保洁") == ["上门保洁丙"]
    if change == "pause":
        item.transition_to(ListingStatus.PAUSED)
        expected = []
    elif change == "retitle":
        item.title = "深度保洁丙"
        item.search_text = "深度保洁丙"
        expected = ["深度保洁丙"]
    else:
        sanctions.suspend(db.session, item.provider, actor=None, reason="test", days=7)
        expected = []
    db.session.commit()
    assert _titles(client, q="保洁") == expected


def test_a_change_rolled_back_leaves_the_generation_where_it_was(cache):
    item = factories.listing()
    before = catalogue_cache.generation(db.session)
    item.title = "作废的标题"
    db.session.flush()
    db.session.rollback()
    assert catalogue_cache.generation(db.session) == before
    factories.listing()
    assert catalogue_cache.generation(db.session)[0] > before[0]


def test_an_unrelated_commit_does_not_move_the_generation(cache):
    factories.listing()
    before = catalogue_cache.generation(db.session)
    factories.official()  # a user is not part of the catalogue
    assert catalogue_cache.generation(db.session) == before


def test_a_suspension_running_out_shows_the_listings_again_at_once(client, clock, cache):
    item = factories.listing(title="上门保洁丁")
    sanctions.suspend(db.session, item.provider, actor=None, reason="test", days=3)
    db.session.commit()
    assert _titles(client, q="保洁") == []
    assert _titles(client, q="保洁") == []  # cached while the suspension runs
    clock.advance(days=3, seconds=1)
    assert _titles(client, q="保洁") == ["上门保洁丁"]


def test_answers_are_kept_per_language(client, cache):
    factories.listing(title="上门保洁戊")
    zh = client.get("/api/v1/catalogue?q=保洁&all_communities=true").get_json()
    client.set_cookie("linli_lang", "en")
    en = client.get("/api/v1/catalogue?q=保洁&all_communities=true").get_json()
    assert zh["items"][0]["category"]["name"] != en["items"][0]["category"]["name"]


def test_a_bad_search_is_refused_every_time_and_not_cached(app, client, cache):
    for _ in range(2):
        response = client.get("/api/v1/catalogue?category=no-such-thing")
        assert response.status_code == 422
    assert _stats(app)[0] == 0


def test_the_cache_forgets_old_answers_and_keeps_a_bounded_number():
    now = [100.0]
    cache = SearchCache(seconds=30, entries=2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # "b" was least recently used
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    now[0] += 30
    assert cache.get("a") is None and cache.get("c") is None


# --- the gram index: one- and two-character terms on PostgreSQL -----------------------


def test_a_terms_grams_are_its_characters_or_character_pairs():
    from providers.catalogue import search_grams

    assert search_grams("锁") == ["锁"]
    assert search_grams("保洁") == ["保洁"]
    assert search_grams("上门保洁") == ["上门", "保洁", "门保"]


@pytest.mark.parametrize("term, found", [("锁", True), ("开锁", True), ("换锁开", False), ("锁%", False)])
def test_short_terms_find_exactly_the_listings_containing_them(client, term, found):
    factories.listing(title="开锁换锁")
    factories.listing(title="上门保洁")
    titles = _titles(client, q=term)
    assert titles == (["开锁换锁"] if found else [])


def test_postgresql_can_answer_a_two_character_term_from_the_gram_index(db_session):
    from tests.conftest import on_postgres

    if not on_postgres():
        pytest.skip("the gram index exists on PostgreSQL only")
    assert "保洁" in db_session.scalar(sa.text("SELECT linli_search_grams('上门保洁')"))
    db_session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db_session.scalars(sa.text(
        "EXPLAIN SELECT id FROM listing WHERE linli_search_grams(search_text) @> ARRAY['保洁']")))
    assert "ix_listing_search_grams" in plan
