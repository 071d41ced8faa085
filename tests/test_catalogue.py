"""The public catalogue: search, filters, community scoping, sorting, paging,
listing and provider pages, and a fixed number of queries per page.

Every test scopes its searches to its own communities or words, so rows left by
other tests cannot change the results.
"""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from providers.models import ListingStatus, PricingUnit, ProviderStatus
from tests import factories

_marker = itertools.count(1)


@pytest.fixture
def word():
    """A word no other test's listing contains."""
    return f"标记{next(_marker)}x{id(object())}"


def titles(response) -> list[str]:
    """Listing titles in the order the page shows them (result cards)."""
    return re.findall(r'<h3><a href="/listings/\d+">([^<]+)</a></h3>', response.get_data(as_text=True))


def get(client, **params):
    response = client.get("/catalogue", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response


# --- search and filters ------------------------------------------------------


def test_search_finds_a_chinese_substring(client, en, word):
    factories.listing(title=f"上门深度保洁{word}")
    factories.listing(title=f"助餐送餐{word}", description="每日午餐送到家。", category_code="meal_delivery")
    assert titles(get(client, q=f"保洁 {word}")) == [f"上门深度保洁{word}"]
    assert sorted(titles(get(client, q=word))) == sorted([f"上门深度保洁{word}", f"助餐送餐{word}"])


def test_every_search_term_must_match(client, en, word):
    factories.listing(title=f"上门深度保洁{word}", description="自带工具 Deep Clean")
    factories.listing(title=f"日常保洁{word}", description="两小时")
    assert titles(get(client, q=f"{word} 深度 保洁")) == [f"上门深度保洁{word}"]
    assert titles(get(client, q=f"{word} 深度 送餐")) == []
    assert titles(get(client, q=f"{word} deep CLEAN")) == [f"上门深度保洁{word}"]  # case-insensitive
    assert titles(get(client, q=f"{word} 100%")) == []  # LIKE wildcards are literal


def test_category_filter_uses_the_category_code(client, en, word):
    factories.listing(title=f"保洁{word}", category_code="housekeeping")
    factories.listing(title=f"维修{word}", category_code="repairs")
    assert titles(get(client, q=word, category="repairs")) == [f"维修{word}"]
    page = get(client, q=word, category="no-such-thing")
    assert "There is no such category" in page.get_data(as_text=True) and len(titles(page)) == 2


def test_price_range_in_yuan(client, en, word):
    for price in (5000, 12000, 30000):
        factories.listing(title=f"价{price}{word}", price_fen=price)
    assert titles(get(client, q=word, min_price="100", max_price="200", sort="price_asc")) == [f"价12000{word}"]
    assert titles(get(client, q=word, min_price="120", sort="price_asc")) == [f"价12000{word}", f"价30000{word}"]
    assert titles(get(client, q=word, max_price="119.99", sort="price_asc")) == [f"价5000{word}"]
    assert titles(get(client, q=word, min_price="￥100", max_price="200元")) == [f"价12000{word}"]
    # Swapped bounds are put right, with a note.
    swapped = get(client, q=word, min_price="200", max_price="100")
    assert titles(swapped) == [f"价12000{word}"] and "we swapped them" in swapped.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["abc", "-5", "1.234", "NaN", "1e400", "1e999999", "9" * 30, "Infinity"])
def test_a_bad_price_bound_is_ignored_with_a_note(client, en, word, bad):
    factories.listing(title=f"价{word}", price_fen=12000)
    page = get(client, q=word, min_price=bad, max_price=bad)
    html = page.get_data(as_text=True)
    assert "is not an amount in yuan and was ignored" in html
    assert titles(page) == [f"价{word}"]


def test_provider_filter_and_the_link_from_the_profile(client, en, word):
    mine = factories.provider(name=f"洁美家政{word}")
    factories.listing(mine, title=f"甲{word}")
    factories.listing(mine, title=f"乙{word}")
    factories.listing(title=f"丙{word}")
    profile = client.get(f"/providers/{mine.id}").get_data(as_text=True)
    assert f'href="/catalogue?provider={mine.id}"' in profile
    page = get(client, provider=mine.id, q=word)
    assert sorted(titles(page)) == [f"乙{word}", f"甲{word}"]
    assert f"Services of 洁美家政{word}" in page.get_data(as_text=True)
    bad = get(client, provider="abc", q=word)
    assert "provider filter was not understood" in bad.get_data(as_text=True) and len(titles(bad)) == 3


def test_a_resident_sees_their_own_community_by_default(client, auth, en, word):
    a = factories.community(name=f"城里社区{word}")
    b = factories.community(name=f"般阳社区{word}")
    provider = factories.provider(communities=[a, b])
    factories.listing(provider, title=f"只在A{word}", communities=[a])
    factories.listing(provider, title=f"只在B{word}", communities=[b])
    factories.listing(provider, title=f"两处{word}", communities=[a, b])

    anonymous = get(client, q=word)
    assert len(titles(anonymous)) == 3 and "Services in" not in anonymous.get_data(as_text=True)
    assert sorted(titles(get(client, q=word, community=b.id))) == sorted([f"只在B{word}", f"两处{word}"])

    auth.login(factories.resident(b))
    page = get(client, q=word)
    assert sorted(titles(page)) == sorted([f"只在B{word}", f"两处{word}"])
    html = page.get_data(as_text=True)
    assert f"Services in 般阳社区{word}" in html and "Show all communities" in html
    assert f'<option value="{b.id}" selected>' in html
    assert len(titles(get(client, q=word, community="all"))) == 3
    assert sorted(titles(get(client, q=word, community=a.id))) == sorted([f"只在A{word}", f"两处{word}"])
    unknown = get(client, q=word, community="999999")
    assert "There is no such community" in unknown.get_data(as_text=True) and len(titles(unknown)) == 3


@pytest.fixture
def sortable(word, clock):
    """Four listings in their own community with distinct prices, ratings and ages."""
    place = factories.community()
    provider = factories.provider(communities=[place])
    specs = [  # title, price, rating sum, rating count, published days ago
        ("便宜", 5000, 0, 0, 3),
        ("好评", 20000, 98, 20, 2),
        ("贵", 90000, 15, 5, 1),
        ("一条五星", 12000, 5, 1, 0),
    ]
    for title, price, total, n, days in specs:
        factories.listing(provider, title=f"{title}{word}", price_fen=price, rating_sum=total, rating_count=n,
                          published_at=now() - timedelta(days=days))
    return place


@pytest.mark.parametrize(("sort", "expected"), [
    ("price_asc", ["便宜", "一条五星", "好评", "贵"]),
    ("price_desc", ["贵", "好评", "一条五星", "便宜"]),
    # Bayesian mean (prior 4.0 weight 5): 4.72 > 4.17 > 4.0 (no ratings) > 3.5; one 5 does not win.
    ("rating", ["好评", "一条五星", "便宜", "贵"]),
    ("newest", ["一条五星", "贵", "好评", "便宜"]),
    ("relevance", ["好评", "一条五星", "便宜", "贵"]),
    ("nonsense", ["好评", "一条五星", "便宜", "贵"]),
])
def test_sort_orders(client, en, word, sortable, sort, expected):
    assert titles(get(client, community=sortable.id, sort=sort)) == [f"{t}{word}" for t in expected]


def test_ratings_show_as_a_bayesian_mean_with_their_count(client, en, word, sortable):
    html = get(client, community=sortable.id).get_data(as_text=True)
    assert "★ 4.7" in html and "(20 ratings)" in html  # (20 + 98) / 25 = 4.72
    assert "★ 4.2" in html and "(1 rating)" in html  # (20 + 5) / 6
    assert "No ratings yet" in html


def test_pagination(client, en, app, monkeypatch, word):
    monkeypatch.setitem(app.config, "CATALOGUE_PAGE_SIZE", 2)
    place = factories.community()
    provider = factories.provider(communities=[place])
    for i in range(5):
        factories.listing(provider, title=f"第{i}{word}", price_fen=10000 + i * 100)
    pages = [titles(get(client, community=place.id, sort="price_asc", page=n)) for n in (1, 2, 3)]
    assert pages == [[f"第0{word}", f"第1{word}"], [f"第2{word}", f"第3{word}"], [f"第4{word}"]]
    html = get(client, community=place.id, sort="price_asc", page=2).get_data(as_text=True)
    assert "Page 2 of 3" in html and "5 services found" in html
    assert "page=3" in html and f"community={place.id}" in html and "sort=price_asc" in html
    assert titles(get(client, community=place.id, sort="price_asc", page=99)) == [f"第4{word}"]
    for bad in ("abc", "-1", "0", ""):
        assert titles(get(client, community=place.id, sort="price_asc", page=bad))[0] == f"第0{word}"
    assert titles(get(client, community=place.id, sort="price_asc", page="9" * 40)) == [f"第4{word}"]


def test_only_published_listings_of_active_providers_are_shown(client, en, word):
    live = factories.listing(title=f"在售{word}")
    hidden = [factories.listing(title=f"{status.value}{word}", status=status)
              for status in (ListingStatus.DRAFT, ListingStatus.PAUSED, ListingStatus.ARCHIVED)]
    for status in (ProviderStatus.SUSPENDED, ProviderStatus.PENDING, ProviderStatus.REMOVED):
        hidden.append(factories.listing(factories.provider(status=status), title=f"机构{status.value}{word}"))
    assert titles(get(client, q=word)) == [f"在售{word}"]
    assert client.get(f"/listings/{live.id}").status_code == 200
    for listing in hidden:
        assert client.get(f"/listings/{listing.id}").status_code == 404, listing.title
    assert client.get("/listings/999999").status_code == 404


def test_suspending_a_provider_hides_its_listings_at_once(client, en, word, db_session):
    provider = factories.provider()
    listing = factories.listing(provider, title=f"服务{word}")
    assert titles(get(client, q=word)) == [f"服务{word}"]
    provider.status = ProviderStatus.SUSPENDED
    db_session.commit()
    assert titles(get(client, q=word)) == []
    assert client.get(f"/listings/{listing.id}").status_code == 404
    assert client.get(f"/providers/{provider.id}").status_code == 404


def test_a_nasty_query_string_never_breaks_the_page(client, en):
    for params in ({"q": "%_\\'\"<script>"}, {"q": "保" * 5000}, {"sort": "'; drop"}, {"category": "x" * 300},
                   {"community": "-1"}, {"provider": "1e9"}, {"min_price": "¥1,000", "max_price": "2000元"}):
        response = client.get("/catalogue", query_string=params)
        assert response.status_code == 200, params
        assert "<script>" not in response.get_data(as_text=True)


# --- listing page and provider profile ---------------------------------------------------


def test_the_listing_page_shows_everything_a_resident_needs(client, en, word):
    a = factories.community(name=f"城里社区{word}")
    provider = factories.provider(name=f"安康{word}", communities=[a])
    listing = factories.listing(provider, title=f"上门深度保洁{word}", description="第一段。\n第二段。",
                                price_fen=9950, pricing_unit=PricingUnit.PER_HOUR, duration_minutes=90,
                                response_hours=6)
    html = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    for expected in (f"上门深度保洁{word}", "<p>第一段。</p>", "<p>第二段。</p>", "¥99.50", "per hour",
                     "90 minutes", "within 6 hours", f"城里社区{word}", f'href="/providers/{provider.id}"',
                     f"安康{word}", "Monday", "09:00–17:00", "Sunday", "Not available", "No ratings yet"):
        assert expected in html, expected
    assert f'href="/listings/{listing.id}/book"' in html


def test_a_resident_is_told_when_a_listing_is_not_offered_in_their_community(client, auth, en):
    a, b = factories.community(), factories.community(name="般阳社区")
    listing = factories.listing(factories.provider(communities=[a]), communities=[a])
    auth.login(factories.resident(b))
    assert "not offered in your community (般阳社区)" in client.get(f"/listings/{listing.id}").get_data(as_text=True)


def test_provider_profile_shows_the_public_facts_and_published_listings(client, en, word):
    a = factories.community(name=f"城里社区{word}")
    provider = factories.provider(name=f"安康{word}", communities=[a], categories=["home_care", "meal_delivery"],
                                  description="专业居家养老。")
    factories.listing(provider, title=f"在售{word}", category_code="home_care")
    factories.listing(provider, title=f"草稿{word}", status=ListingStatus.DRAFT, category_code="home_care")
    response = client.get(f"/providers/{provider.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for expected in (f"安康{word}", "专业居家养老。", "Home care", "Meal delivery", f"城里社区{word}",
                     provider.credit_code, f"在售{word}"):
        assert expected in html, expected
    assert f"草稿{word}" not in html
    assert provider.contact_phone not in html  # personal contact details stay private


@pytest.mark.parametrize("status", [ProviderStatus.PENDING, ProviderStatus.REJECTED, ProviderStatus.SUSPENDED,
                                    ProviderStatus.REMOVED])
def test_only_active_providers_have_a_public_profile(client, status):
    provider = factories.provider(status=status)
    assert client.get(f"/providers/{provider.id}").status_code == 404


def test_catalogue_pages_are_public(client):
    listing = factories.listing()
    for url in ("/catalogue", f"/listings/{listing.id}", f"/providers/{listing.provider_id}"):
        assert client.get(url).status_code == 200, url


# --- a fixed number of queries per page (no N+1) ------------------------------------------


@contextmanager
def counting_queries():
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def _fill(place, providers: int, listings: int):
    owners = [factories.provider(communities=[place], categories=["housekeeping", "repairs", "home_care"])
              for _ in range(providers)]
    codes = ("housekeeping", "repairs", "home_care")
    for i in range(listings):
        factories.listing(owners[i % providers], category_code=codes[i % 3], rating_sum=4 * (i % 4), rating_count=i % 4)
    return owners


def _queries_for(client, url: str, **params) -> int:
    db.session.expunge_all()  # nothing cached in the identity map: lazy loads would show
    with counting_queries() as statements:
        response = client.get(url, query_string=params)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("logged_in", [False, True])
def test_the_catalogue_runs_the_same_few_queries_for_5_or_30_listings(client, auth, logged_in):
    small, large = factories.community(), factories.community()
    _fill(small, providers=5, listings=5)
    _fill(large, providers=10, listings=30)
    small_id, large_id = small.id, large.id
    if logged_in:
        auth.login(factories.resident(large))
    few = _queries_for(client, "/catalogue", community=small_id)
    many = _queries_for(client, "/catalogue", community=large_id)
    assert many == few
    # (user), categories, communities, count, one page with providers and categories, the cards' thumbnails
    assert many <= 7
    # Filters and sorting add no per-row queries either.
    assert _queries_for(client, "/catalogue", community=large_id, q="保洁", sort="rating", category="repairs",
                        min_price="1", max_price="500") == many
    if logged_in:  # the resident's own community is the default
        assert _queries_for(client, "/catalogue") == many


def test_the_provider_profile_runs_the_same_few_queries_for_2_or_20_listings(client):
    place = factories.community()
    small, = _fill(place, providers=1, listings=2)
    large, = _fill(place, providers=1, listings=20)
    small_url, large_url = f"/providers/{small.id}", f"/providers/{large.id}"
    few = _queries_for(client, small_url)
    many = _queries_for(client, large_url)
    assert many == few and many <= 6  # the cards' thumbnails: one statement for all of them


def test_the_listing_page_runs_a_fixed_number_of_queries(client):
    place = factories.community()
    owner, = _fill(place, providers=1, listings=1)
    extra = [factories.community() for _ in range(6)]
    owner.communities = [place, *extra]
    db.session.commit()
    one = factories.listing(owner, communities=[place])
    seven = factories.listing(owner, communities=[place, *extra])
    one_url, seven_url = f"/listings/{one.id}", f"/listings/{seven.id}"
    assert _queries_for(client, one_url) == _queries_for(client, seven_url) <= 5  # its photos: one more
