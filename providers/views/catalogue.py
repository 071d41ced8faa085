"""The public catalogue: search and filter, a listing's page, a provider's profile.

Everyone may read these pages.  Only published listings of active providers
appear (``providers.catalogue``); anything else is a 404.  A logged-in
resident sees the services of their own community unless they choose another
(or all).  Each page runs a fixed number of queries, whatever the number of
listings (no N+1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from app.access import public
from app.extensions import db
from app.money import MoneyError
from providers import catalogue as catalogue_service
from providers import catalogue_cache, listing_photos
from providers.catalogue import CatalogueQuery, Sort
from providers.listing_forms import WEEKDAYS, amount_to_fen, clean_amount, int_or_none
from providers.models import MAX_PRICE_FEN, Listing
from providers.views import bp

SORT_LABELS = (
    (Sort.RELEVANCE, _l("Best match")),
    (Sort.PRICE_ASC, _l("Price: low to high")),
    (Sort.PRICE_DESC, _l("Price: high to low")),
    (Sort.RATING, _l("Best rated")),
    (Sort.NEWEST, _l("Newest")),
)


# --- The filters (a GET form: no CSRF, nothing changes) ---------------------------

ALL_COMMUNITIES = "all"
MAX_QUERY_CHARS = 100
MAX_PAGE = 10_000
MAX_FILTER_PRICE_FEN = 100 * MAX_PRICE_FEN  # beyond this a typed bound is a typing error


@dataclass
class CatalogueFilters:
    """The catalogue request as understood, what to show back in the form, and notes."""

    query: CatalogueQuery
    q: str = ""
    category: str = ""
    min_price: str = ""
    max_price: str = ""
    provider: str = ""
    community: str = ""  # "", "all" or a community id as text
    sort: str = Sort.RELEVANCE.value
    defaulted_community: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> int:
        """How many filters beyond the search words narrow or order the results (the page
        opens its folded filters when there are any)."""
        chosen = [self.category, self.min_price, self.max_price, self.provider]
        chosen.append(self.community if not self.defaulted_community else "")
        chosen.append("" if self.sort == Sort.RELEVANCE.value else self.sort)
        return sum(1 for value in chosen if value)

    def args(self, **changes) -> dict:
        """The query-string arguments for a link to this search (e.g. another page)."""
        values = {
            "q": self.q,
            "category": self.category,
            "min_price": self.min_price,
            "max_price": self.max_price,
            "provider": self.provider,
            "community": self.community,
            "sort": "" if self.sort == Sort.RELEVANCE.value else self.sort,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value not in ("", None)}


def _price_bound(text: str, label, notes: list[str]) -> int | None:
    text = clean_amount(text)
    if not text:
        return None
    try:
        fen = amount_to_fen(text)
    except MoneyError:
        fen = None
    if fen is None or not 0 <= fen <= MAX_FILTER_PRICE_FEN:
        notes.append(
            str(_l("%(label)s “%(value)s” is not an amount in yuan and was ignored.", label=label, value=text))
        )
        return None
    return fen


def parse_catalogue_args(
    args,
    *,
    category_codes: set[str],
    community_ids: set[int],
    default_community_id: int | None,
    per_page: int,
) -> CatalogueFilters:
    """Read the catalogue's query string; bad values are ignored with a note, never an error."""
    notes: list[str] = []
    q = " ".join((args.get("q") or "").split())[:MAX_QUERY_CHARS]

    category = (args.get("category") or "").strip()
    if category and category not in category_codes:
        notes.append(str(_l("There is no such category; showing all categories.")))
        category = ""

    min_fen = _price_bound(args.get("min_price"), _l("Lowest price"), notes)
    max_fen = _price_bound(args.get("max_price"), _l("Highest price"), notes)
    min_text = (args.get("min_price") or "").strip() if min_fen is not None else ""
    max_text = (args.get("max_price") or "").strip() if max_fen is not None else ""
    if min_fen is not None and max_fen is not None and min_fen > max_fen:
        notes.append(str(_l("The lowest price was above the highest; we swapped them.")))
        min_fen, max_fen, min_text, max_text = max_fen, min_fen, max_text, min_text

    provider_text = (args.get("provider") or "").strip()
    provider_id = int_or_none(provider_text)
    if provider_text and (provider_id is None or provider_id < 1):
        notes.append(str(_l("The provider filter was not understood and was ignored.")))
        provider_id, provider_text = None, ""

    community_text = (args.get("community") or "").strip()
    community_id, defaulted = None, False
    if community_text == ALL_COMMUNITIES:
        pass
    elif community_text:
        community_id = int_or_none(community_text)
        if community_id not in community_ids:
            notes.append(str(_l("There is no such community; showing all communities.")))
            community_id, community_text = None, ALL_COMMUNITIES if default_community_id else ""
    elif default_community_id is not None:
        community_id, defaulted = default_community_id, True
        community_text = str(default_community_id)

    sort_text = (args.get("sort") or "").strip()
    try:
        sort = Sort(sort_text) if sort_text else Sort.RELEVANCE
    except ValueError:
        sort = Sort.RELEVANCE

    page = int_or_none(args.get("page")) or 1
    page = min(max(page, 1), MAX_PAGE)

    query = CatalogueQuery(
        q=q,
        category=category or None,
        community_id=community_id,
        provider_id=provider_id,
        min_price_fen=min_fen,
        max_price_fen=max_fen,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    return CatalogueFilters(
        query=query,
        q=q,
        category=category,
        min_price=min_text,
        max_price=max_text,
        provider=provider_text,
        community=community_text,
        sort=sort.value,
        defaulted_community=defaulted,
        notes=notes,
    )


# --- Views ---------------------------------------------------------------------------


@bp.app_template_filter("bayesian_rating")
def bayesian_rating(listing: Listing) -> str:
    """The listing's public rating (Bayesian mean, one decimal)."""
    return f"{catalogue_service.bayesian_mean(listing.rating_sum, listing.rating_count):.1f}"


def _resident_community_id() -> int | None:
    if current_user.is_authenticated and current_user.is_resident:
        return current_user.community_id
    return None


@bp.route("/catalogue")
@public
def catalogue():
    """Search the catalogue (GET form: q, category, min_price, max_price, provider,
    community, sort, page).  Bad values are ignored with a note; never an error.
    The page's body depends only on the search (and a resident's community), so
    it comes from the catalogue cache when it is current."""
    default_community_id = _resident_community_id()
    search = (tuple(request.args.items(multi=True)), default_community_id)
    body = catalogue_cache.cached(db.session, "page", search, lambda: _catalogue_body(default_community_id))
    return render_template("providers/catalogue.html", body=body)


def _catalogue_body(default_community_id: int | None) -> Markup:
    categories = catalogue_service.categories(db.session)
    communities = catalogue_service.communities(db.session)
    filters = parse_catalogue_args(
        request.args,
        category_codes={c.code for c in categories},
        community_ids={c.id for c in communities},
        default_community_id=default_community_id,
        per_page=current_app.config["CATALOGUE_PAGE_SIZE"],
    )
    page = catalogue_service.search(db.session, filters.query)
    if page.page > page.pages:
        # Past the last page (an old link): show the last one instead.
        filters.query.page = page.pages
        page = catalogue_service.search(db.session, filters.query)
    provider = None
    if filters.query.provider_id is not None:
        provider = catalogue_service.active_provider(db.session, filters.query.provider_id)
    community = next((c for c in communities if c.id == filters.query.community_id), None)

    def page_url(number: int) -> str:
        return url_for("providers.catalogue", **filters.args(page=number if number > 1 else None))

    # Rendered without the context processors (the visitor's menu data): the body
    # must not depend on who is asking, and the page around it runs them once.
    return Markup(current_app.jinja_env.get_template("providers/_catalogue_body.html").render(
        filters=filters,
        page=page,
        categories=categories,
        communities=communities,
        community=community,
        provider=provider,
        sort_labels=SORT_LABELS,
        all_communities=ALL_COMMUNITIES,
        page_url=page_url,
        thumbs=listing_photos.first_photos(db.session, [item.id for item in page.items]),
        all_communities_url=url_for("providers.catalogue", **filters.args(community=ALL_COMMUNITIES)),
    ))


@bp.route("/listings/<int:listing_id>")
@public
def listing(listing_id: int):
    """A published listing of an active provider; 404 otherwise."""
    item = catalogue_service.public_listing(db.session, listing_id)
    by_day = {number: [] for number, _key, _name in WEEKDAYS}
    for window in item.availability:
        by_day[window.weekday].append(window)
    week = [(name, by_day[number]) for number, _key, name in WEEKDAYS]
    community_id = _resident_community_id()
    not_here = None
    if community_id is not None and community_id not in {c.id for c in item.communities}:
        not_here = current_user.community
    return render_template("providers/listing.html", listing=item, week=week, not_here=not_here,
                           photos=listing_photos.photos_of(db.session, item.id))


@bp.route("/providers/<int:provider_id>")
@public
def provider_profile(provider_id: int):
    """An active provider's public profile and its published listings; 404 otherwise."""
    provider, items = catalogue_service.public_provider(db.session, provider_id)
    return render_template("providers/provider_profile.html", provider=provider, listings=items,
                           thumbs=listing_photos.first_photos(db.session, [item.id for item in items]))
