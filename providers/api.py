"""JSON API for providers, listings, the catalogue and vetting (under ``/api/v1``).

Three blueprints:

- ``catalogue_api``: public reads (the catalogue, categories, communities, a
  listing, a provider's profile);
- ``my_listings_api``: a provider's staff manage their own listings
  (someone else's listing is a 404);
- ``vetting_api``: officials review and decide on providers.

Views are thin: they parse with the schemas in :mod:`providers.api_schemas`,
call the services, commit on success (:func:`app.api.unit_of_work`) and leave
every refusal to :mod:`app.errors`, which answers a problem document.
"""

from __future__ import annotations

from dataclasses import astuple

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, PUBLIC, Blueprint, problems, require_user, unit_of_work
from app.errors import Invalid
from app.extensions import db
from app.models import Role
from providers import catalogue, catalogue_cache, listings, registration, vetting
from providers.api_schemas import (
    CataloguePageSchema,
    CatalogueQuerySchema,
    CategorySchema,
    ChangeDecisionSchema,
    CommunitySchema,
    DecisionSchema,
    ListingDetailSchema,
    ListingEditSchema,
    ListingInputSchema,
    ListingStatusSchema,
    ListingVersionSchema,
    OwnListingSchema,
    OwnListingSummarySchema,
    ProviderReviewSchema,
    PublicProviderSchema,
    QueueQuerySchema,
    QueueSchema,
    listing_input,
)
from providers.models import ServiceCategory

catalogue_blp = Blueprint(
    "catalogue_api",
    __name__,
    url_prefix="/api/v1",
    description="What residents can find: published listings of active providers",
)
my_listings_blp = Blueprint(
    "my_listings_api",
    __name__,
    url_prefix="/api/v1/my/listings",
    description="A provider's own listings (provider staff only)",
)
vetting_blp = Blueprint(
    "vetting_api",
    __name__,
    url_prefix="/api/v1/official/providers",
    description="Officials vet providers: approve, reject, suspend, reinstate",
)


def blueprints() -> list[Blueprint]:
    return [catalogue_blp, my_listings_blp, vetting_blp]


# --- Public: the catalogue --------------------------------------------------


def _resident_community_id() -> int | None:
    """A logged-in resident's community (the catalogue's default scope), else None."""
    if current_user.is_authenticated and current_user.is_resident:
        return current_user.community_id
    return None


@catalogue_blp.route("/catalogue")
@catalogue_blp.doc(security=PUBLIC)
@catalogue_blp.arguments(CatalogueQuerySchema(), location="query")  # one instance, not one per request
@catalogue_blp.response(200, CataloguePageSchema)
@problems(catalogue_blp, 422)
def search_catalogue(args):
    """Search the catalogue: one page of listing summaries.

    A logged-in resident who names no community sees their own community's
    services (unless ``all_communities=true``).  Answers 422 for an unknown
    category code or bad parameters.
    """
    everywhere = args.pop("all_communities")
    query = catalogue.CatalogueQuery(**args)
    query.category = query.category or None  # "category=" means every category
    if query.community_id is None and not everywhere:
        query.community_id = _resident_community_id()
    body = catalogue_cache.cached(db.session, "api", astuple(query), lambda: _catalogue_json(query))
    return current_app.response_class(body, mimetype="application/json")


def _catalogue_json(query: catalogue.CatalogueQuery) -> bytes:
    """The catalogue answer as JSON bytes (what the cache keeps)."""
    if query.category is not None and not db.session.scalar(
        sa.select(sa.exists().where(ServiceCategory.code == query.category))
    ):
        raise Invalid(_l("Unknown service category."), field="category")
    page = catalogue.search(db.session, query)
    data = CataloguePageSchema().dump({
        "items": page.items,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
        "community_id": query.community_id,
    })
    return (current_app.json.dumps(data) + "\n").encode()


@catalogue_blp.route("/categories")
@catalogue_blp.doc(security=PUBLIC)
@catalogue_blp.response(200, CategorySchema(many=True))
def list_categories():
    """Every service category, in display order."""
    return catalogue.categories(db.session)


@catalogue_blp.route("/communities")
@catalogue_blp.doc(security=PUBLIC)
@catalogue_blp.response(200, CommunitySchema(many=True))
def list_communities():
    """Every community, by name."""
    return catalogue.communities(db.session)


@catalogue_blp.route("/listings/<int:listing_id>")
@catalogue_blp.doc(security=PUBLIC)
@catalogue_blp.response(200, ListingDetailSchema)
@problems(catalogue_blp, 404)
def get_listing(listing_id: int):
    """A published listing of an active provider, with its weekly availability.

    404 when it does not exist or is not public (draft, paused, archived, or
    its provider is not active).
    """
    return catalogue.public_listing(db.session, listing_id)


@catalogue_blp.route("/providers/<int:provider_id>")
@catalogue_blp.doc(security=PUBLIC)
@catalogue_blp.response(200, PublicProviderSchema)
@problems(catalogue_blp, 404)
def get_provider(provider_id: int):
    """An active provider's public profile with its published listings; 404 otherwise."""
    provider, published = catalogue.public_provider(db.session, provider_id)
    return {
        "id": provider.id,
        "name": provider.name,
        "description": provider.description,
        "categories": provider.categories,
        "communities": provider.communities,
        "activated_at": provider.activated_at,
        "listings": published,
    }


# --- Provider staff: their own listings ------------------------------------


@my_listings_blp.before_request
def _provider_staff_only():
    """401/403 before the body is parsed, so no one learns about validation."""
    require_user(Role.PROVIDER_STAFF)


def _staff_and_provider():
    user = require_user(Role.PROVIDER_STAFF)
    return user, registration.provider_of(db.session, user)


def _own_listing(listing_id: int):
    user, provider = _staff_and_provider()
    return user, listings.own_listing(db.session, provider, listing_id)


@my_listings_blp.route("")
class MyListings(MethodView):
    @my_listings_blp.doc(security=AUTHENTICATED)
    @my_listings_blp.response(200, OwnListingSummarySchema(many=True))
    @problems(my_listings_blp, 401, 403)
    def get(self):
        """Every listing of the caller's provider, whatever its status."""
        _, provider = _staff_and_provider()
        return listings.listings_of(db.session, provider)

    @my_listings_blp.doc(security=AUTHENTICATED)
    @my_listings_blp.arguments(ListingInputSchema)
    @my_listings_blp.response(201, OwnListingSchema)
    @problems(my_listings_blp, 400, 401, 403, 409, 422)
    def post(self, data):
        """Create a listing as a draft (version 1).

        422 with the field at fault (unknown category, price out of range, no
        availability…); 409 when the provider is not active.
        """
        user, provider = _staff_and_provider()
        with unit_of_work():
            listing = listings.create_listing(db.session, provider, listing_input(data), actor=user)
        return listing


@my_listings_blp.route("/<int:listing_id>")
class MyListing(MethodView):
    @my_listings_blp.doc(security=AUTHENTICATED)
    @my_listings_blp.response(200, OwnListingSchema)
    @problems(my_listings_blp, 401, 403, 404)
    def get(self, listing_id: int):
        """One of the caller's listings; 404 for any other."""
        _, listing = _own_listing(listing_id)
        return listing

    @my_listings_blp.doc(security=AUTHENTICATED)
    @my_listings_blp.arguments(ListingEditSchema)
    @my_listings_blp.response(200, OwnListingSchema)
    @problems(my_listings_blp, 400, 401, 403, 404, 409, 422)
    def put(self, data, listing_id: int):
        """Replace the listing's content: a new version, the old one stays in the history.

        404 for someone else's listing; 409 when archived, the provider is not
        active, or ``version`` is given and someone saved since; 422 with the
        field at fault.
        """
        user, listing = _own_listing(listing_id)
        with unit_of_work():
            listings.update_listing(
                db.session, listing, listing_input(data), actor=user, expected_version=data["version"]
            )
        return listing


@my_listings_blp.route("/<int:listing_id>/status", methods=["POST"])
@my_listings_blp.doc(security=AUTHENTICATED)
@my_listings_blp.arguments(ListingStatusSchema)
@my_listings_blp.response(200, OwnListingSchema)
@problems(my_listings_blp, 400, 401, 403, 404, 409, 422)
def change_listing_status(data, listing_id: int):
    """Publish, pause or archive a listing.

    409 for a transition the state machine forbids (e.g. from archived) or
    publishing while the provider is not active.
    """
    user, listing = _own_listing(listing_id)
    with unit_of_work():
        listings.change_status(db.session, listing, data["status"], actor=user)
    return listing


@my_listings_blp.route("/<int:listing_id>/versions")
@my_listings_blp.doc(security=AUTHENTICATED)
@my_listings_blp.response(200, ListingVersionSchema(many=True))
@problems(my_listings_blp, 401, 403, 404)
def listing_versions(listing_id: int):
    """The listing's saved versions, newest first."""
    _, listing = _own_listing(listing_id)
    return listings.versions_of(db.session, listing)


# --- Officials: vetting ------------------------------------------------------


@vetting_blp.before_request
def _officials_only():
    require_user(*OFFICIAL_ROLES)


@vetting_blp.route("")
@vetting_blp.doc(security=AUTHENTICATED)
@vetting_blp.arguments(QueueQuerySchema, location="query")
@vetting_blp.response(200, QueueSchema)
@problems(vetting_blp, 401, 403, 422)
def provider_queue(args):
    """Providers in one status (default pending), oldest submission first, with counts per status."""
    status = args["status"]
    return {
        "status": status,
        "items": vetting.queue(db.session, status),
        "counts": vetting.counts_by_status(db.session),
    }


@vetting_blp.route("/<int:provider_id>")
@vetting_blp.doc(security=AUTHENTICATED)
@vetting_blp.response(200, ProviderReviewSchema)
@problems(vetting_blp, 401, 403, 404)
def review_provider(provider_id: int):
    """A provider with everything officials review (details, documents)."""
    return vetting.get_provider(db.session, provider_id)


@vetting_blp.route("/<int:provider_id>/decision", methods=["POST"])
@vetting_blp.doc(security=AUTHENTICATED)
@vetting_blp.arguments(DecisionSchema)
@vetting_blp.response(200, ProviderReviewSchema)
@problems(vetting_blp, 400, 401, 403, 404, 409, 422)
def decide_provider(data, provider_id: int):
    """Approve, reject, suspend or reinstate a provider; audited with the reason.

    422 when a reason is required but missing, or the decision does not fit
    the provider's status; 409 for a transition the state machine forbids.
    """
    official = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        provider = vetting.get_provider(db.session, provider_id)
        vetting.decide(db.session, provider, data["action"], official=official, reason=data["reason"])
    return provider


@vetting_blp.route("/<int:provider_id>/change/decision", methods=["POST"])
@vetting_blp.doc(security=AUTHENTICATED)
@vetting_blp.arguments(ChangeDecisionSchema)
@vetting_blp.response(200, ProviderReviewSchema)
@problems(vetting_blp, 400, 401, 403, 404, 409, 422)
def decide_provider_change(data, provider_id: int):
    """Approve (apply) or reject the provider's change request to what officials vetted; audited,
    the provider's staff are notified.

    422 when rejecting without a reason; 409 when no change waits, or a category it adds needs a
    qualification of which no valid document is on file.
    """
    official = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        provider = vetting.get_provider(db.session, provider_id, for_update=True)
        vetting.decide_change(db.session, provider, data["action"], official=official, reason=data["reason"])
    return provider
