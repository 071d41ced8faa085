"""The catalogue: what residents can find and book in their community.

Only published listings of active providers are shown.  One query fetches a
page of listings with their provider and category (no N+1) and counts the
matches.  Search is a case-insensitive substring match on title and
description, term by term (Chinese has no spaces to split words on).  On
PostgreSQL two GIN indexes serve it: trigrams (``pg_trgm``, terms of three
characters or more) and the text's single characters and character pairs
(``linli_search_grams``, migration 0008), which also serves the one- and
two-character terms most Chinese searches are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, joinedload, selectinload

from app.clock import now
from app.errors import NotFound
from app.models import Community
from providers.models import (
    Listing,
    ListingStatus,
    Provider,
    ProviderStatus,
    ServiceCategory,
    listing_community,
)

# The public rating is a Bayesian mean (DOMAIN.md): a prior of 4.0 worth five
# ratings, so one 5-star rating does not outrank a hundred 4.8s.
RATING_PRIOR_MEAN = 4.0
RATING_PRIOR_WEIGHT = 5
MAX_TERMS = 5


class Sort(StrEnum):
    RELEVANCE = "relevance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    RATING = "rating"
    NEWEST = "newest"


def bayesian_mean(rating_sum: int, rating_count: int) -> float:
    return (RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT + rating_sum) / (RATING_PRIOR_WEIGHT + rating_count)


def bayesian_mean_sql(sum_col, count_col):
    return (sa.literal(RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT) + sum_col) / (
        sa.literal(float(RATING_PRIOR_WEIGHT)) + count_col
    )


@dataclass
class CatalogueQuery:
    q: str = ""
    category: str | None = None  # category code
    community_id: int | None = None
    provider_id: int | None = None
    min_price_fen: int | None = None
    max_price_fen: int | None = None
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    per_page: int = 20


@dataclass
class Page:
    items: list[Listing]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def visible_listings(at: datetime | None = None):
    """Listings a resident may see at ``at`` (default now): published, of a provider
    that takes bookings then (:meth:`Provider.takes_bookings_at`: active, and no
    supervision suspension running; one lifts itself at its end)."""
    return (
        sa.select(Listing)
        .join(Provider, Provider.id == Listing.provider_id)
        .where(Listing.status == ListingStatus.PUBLISHED, Provider.takes_bookings_at(at or now()))
    )


def search_grams(term: str) -> list[str]:
    """The characters (one-character term) or character pairs a term's text must
    contain: what the PostgreSQL gram index (``linli_search_grams``) looks up
    (the search uses it for terms of one or two characters)."""
    if len(term) == 1:
        return [term]
    return sorted({term[i:i + 2] for i in range(len(term) - 1)})


def _filtered(query: CatalogueQuery, dialect: str = "sqlite"):
    stmt = visible_listings()
    for term in query.q.lower().split()[:MAX_TERMS]:
        stmt = stmt.where(Listing.search_text.like(f"%{escape_like(term)}%", escape="\\"))
        if dialect == "postgresql" and len(term) <= 2:
            # The gram index finds a short term's matches (exactly: GIN containment is
            # not lossy).  Longer terms use the trigram index alone: combined with it,
            # whose results are lossy, PostgreSQL would recompute every candidate's grams.
            grams = sa.bindparam(None, search_grams(term), type_=ARRAY(sa.Text))
            stmt = stmt.where(sa.func.linli_search_grams(Listing.search_text).op("@>")(grams))
    if query.category:
        stmt = stmt.join(ServiceCategory, ServiceCategory.id == Listing.category_id).where(
            ServiceCategory.code == query.category
        )
    if query.community_id is not None:
        stmt = stmt.where(
            sa.exists().where(
                listing_community.c.community_id == query.community_id,
                listing_community.c.listing_id == Listing.id,
            )
        )
    if query.provider_id is not None:
        stmt = stmt.where(Listing.provider_id == query.provider_id)
    if query.min_price_fen is not None:
        stmt = stmt.where(Listing.price_fen >= query.min_price_fen)
    if query.max_price_fen is not None:
        stmt = stmt.where(Listing.price_fen <= query.max_price_fen)
    return stmt


def _ordering(sort: Sort):
    rating = bayesian_mean_sql(Listing.rating_sum, Listing.rating_count)
    return {
        Sort.PRICE_ASC: (Listing.price_fen.asc(), Listing.id),
        Sort.PRICE_DESC: (Listing.price_fen.desc(), Listing.id),
        Sort.RATING: (rating.desc(), Listing.rating_count.desc(), Listing.id),
        Sort.NEWEST: (Listing.published_at.desc(), Listing.id.desc()),
        # Relevance: best rated first among the matches, then cheapest.
        Sort.RELEVANCE: (rating.desc(), Listing.price_fen.asc(), Listing.id),
    }[sort]


def search(session: Session, query: CatalogueQuery) -> Page:
    """One page of matches and their number in one statement: an inner query
    picks the page's listing ids and counts all matches (a window over the same
    scan); the outer one loads those few listings with provider and category.
    A page past the end has no rows to carry the count: then a second query
    counts."""
    base = _filtered(query, session.get_bind().dialect.name)
    page = max(1, query.page)
    per_page = max(1, query.per_page)
    ordering = _ordering(query.sort)
    chosen = (
        base.with_only_columns(Listing.id, sa.func.count().over().label("total"))
        .order_by(*ordering)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("chosen")
    )
    stmt = (
        sa.select(Listing, chosen.c.total)
        .join(chosen, chosen.c.id == Listing.id)
        .options(joinedload(Listing.provider), joinedload(Listing.category))
        .order_by(*ordering)
    )
    rows = session.execute(stmt).all()
    if rows:
        total = rows[0].total
    else:
        total = session.scalar(sa.select(sa.func.count()).select_from(base.order_by(None).subquery()))
    return Page(items=[row[0] for row in rows], total=total or 0, page=page, per_page=per_page)


def public_listing(session: Session, listing_id: int) -> Listing:
    """A listing as residents see it; 404 unless published by an active provider."""
    stmt = (
        visible_listings()
        .where(Listing.id == listing_id)
        .options(
            joinedload(Listing.provider),
            joinedload(Listing.category),
            selectinload(Listing.communities),
            selectinload(Listing.availability),
        )
    )
    listing = session.scalar(stmt)
    if listing is None:
        raise NotFound(_l("This service is not available."))
    return listing


def public_provider(session: Session, provider_id: int) -> tuple[Provider, list[Listing]]:
    """An active provider's public profile and its published listings (none while it
    takes no bookings)."""
    provider = session.scalar(
        sa.select(Provider)
        .where(Provider.id == provider_id, Provider.status == ProviderStatus.ACTIVE)
        .options(selectinload(Provider.categories), selectinload(Provider.communities))
    )
    if provider is None:
        raise NotFound(_l("No such provider."))
    # The profile stays up during a supervision suspension; its services do not.
    at = now()
    if not provider.takes_bookings_at(at):
        return provider, []
    listings = list(
        session.scalars(
            visible_listings(at)
            .where(Listing.provider_id == provider_id)
            .options(joinedload(Listing.category))
            .order_by(Listing.title)
        )
    )
    return provider, listings


def active_provider(session: Session, provider_id: int) -> Provider | None:
    """An active provider by id, or None (for the catalogue's "services of" heading)."""
    return session.scalar(
        sa.select(Provider).where(Provider.id == provider_id, Provider.status == ProviderStatus.ACTIVE)
    )


def categories(session: Session) -> list[ServiceCategory]:
    return list(session.scalars(sa.select(ServiceCategory).order_by(ServiceCategory.sort_order)))


def communities(session: Session) -> list[Community]:
    return list(session.scalars(sa.select(Community).order_by(Community.name)))
