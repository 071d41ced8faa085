"""JSON API for ratings and complaints (under ``/api/v1``).

Two blueprints:

- ``ratings_api``: a resident rates a completed booking, the provider replies,
  anyone reads a listing's published ratings;
- ``complaints_api``: a resident files a complaint (no photos here: the page
  takes them), the provider responds, officials decide and read the queue.

Views are thin: they parse with :mod:`ratings.api_schemas`, call the services,
commit with :func:`app.api.unit_of_work` and leave refusals to :mod:`app.errors`
(problem documents with the field at fault).
"""

from __future__ import annotations

from flask import request

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, PUBLIC, Blueprint, problems, require_user, unit_of_work
from app.extensions import db
from app.models import Role
from providers.catalogue import bayesian_mean, public_listing
from ratings import complaints, services
from ratings.api_schemas import (
    ComplaintDecisionSchema,
    ComplaintInputSchema,
    ComplaintQueueQuerySchema,
    ComplaintQueueSchema,
    ComplaintSchema,
    ListingRatingsSchema,
    PageQuerySchema,
    RatingInputSchema,
    RatingSchema,
    ReplyInputSchema,
    ResponseInputSchema,
)

ratings_blp = Blueprint(
    "ratings_api", __name__, url_prefix="/api/v1",
    description="Ratings of completed bookings: rate, reply, read the published ones",
)
complaints_blp = Blueprint(
    "complaints_api", __name__, url_prefix="/api/v1",
    description="Residents' complaints: file, respond within 48 hours, decide",
)


def blueprints() -> list[Blueprint]:
    return [ratings_blp, complaints_blp]


# Who may call each endpoint, checked before the body is parsed (401/403 first,
# so no one learns about validation).  An empty tuple: any logged-in user.
CALLERS = {
    "ratings_api.rate_booking": (Role.RESIDENT,),
    "ratings_api.reply_to_rating": (Role.PROVIDER_STAFF,),
    "complaints_api.file_complaint": (Role.RESIDENT,),
    "complaints_api.get_complaint": (),
    "complaints_api.respond": (Role.PROVIDER_STAFF,),
    "complaints_api.decide": OFFICIAL_ROLES,
    "complaints_api.complaint_queue": OFFICIAL_ROLES,
}


@ratings_blp.before_request
@complaints_blp.before_request
def _check_caller():
    roles = CALLERS.get(request.endpoint)
    if roles is not None:
        require_user(*roles)


# --- ratings -------------------------------------------------------------------------


@ratings_blp.route("/bookings/<int:booking_id>/rating", methods=["POST"])
@ratings_blp.doc(security=AUTHENTICATED)
@ratings_blp.arguments(RatingInputSchema)
@ratings_blp.response(201, RatingSchema)
@problems(ratings_blp, 400, 401, 403, 404, 409, 422)
def rate_booking(data, booking_id: int):
    """Rate the caller's completed booking: the overall score 1–5 (required), the detailed
    scores 1–5, quick tags and a comment (optional).

    404 someone else's booking; 409 not completed, rated already, or more than
    14 days after completion; 422 a score that is not a whole number from 1 to 5
    (the field is named) or a comment over 1000 characters.
    """
    resident = require_user(Role.RESIDENT)
    with unit_of_work():
        rating = services.rate_booking(db.session, resident, booking_id, **data)
    return rating


@ratings_blp.route("/ratings/<int:rating_id>/reply", methods=["POST"])
@ratings_blp.doc(security=AUTHENTICATED)
@ratings_blp.arguments(ReplyInputSchema)
@ratings_blp.response(200, RatingSchema)
@problems(ratings_blp, 400, 401, 403, 404, 409, 422)
def reply_to_rating(data, rating_id: int):
    """The provider's one public reply to a rating of its service.

    404 another provider's rating; 409 already replied; 422 empty or too long.
    """
    staff = require_user(Role.PROVIDER_STAFF)
    with unit_of_work():
        rating = services.reply_to_rating(db.session, staff, rating_id, data["reply"])
    return rating


@ratings_blp.route("/listings/<int:listing_id>/ratings")
@ratings_blp.doc(security=PUBLIC)
@ratings_blp.arguments(PageQuerySchema, location="query")
@ratings_blp.response(200, ListingRatingsSchema)
@problems(ratings_blp, 404, 422)
def listing_ratings(args, listing_id: int):
    """A public listing's published ratings, newest first, with its Bayesian mean.

    Hidden ratings are left out (and out of the mean); no resident is named.
    404 when the listing is not public.
    """
    listing = public_listing(db.session, listing_id)
    page = services.published_ratings(db.session, listing_id=listing.id, page=args["page"],
                                      per_page=args["per_page"])
    return {
        "listing_id": listing.id,
        "rating_mean": round(bayesian_mean(listing.rating_sum, listing.rating_count), 2),
        "rating_count": listing.rating_count,
        "items": page.items, "total": page.total, "page": page.page,
        "per_page": page.per_page, "pages": page.pages,
    }


# --- complaints ----------------------------------------------------------------------


@complaints_blp.route("/bookings/<int:booking_id>/complaints", methods=["POST"])
@complaints_blp.doc(security=AUTHENTICATED)
@complaints_blp.arguments(ComplaintInputSchema)
@complaints_blp.response(201, ComplaintSchema)
@problems(complaints_blp, 400, 401, 403, 404, 409, 422)
def file_complaint(data, booking_id: int):
    """File a complaint about the caller's booking (photos only through the page).

    404 someone else's booking; 409 a booking that never took place (requested,
    declined, expired, cancelled by the resident, resident not there) or one
    with a complaint still waiting; 422 an unknown kind or a missing description.
    """
    resident = require_user(Role.RESIDENT)
    with unit_of_work():
        complaint = complaints.file_complaint(db.session, resident, booking_id, kind=data["kind"],
                                              description=data["description"])
    return complaint


@complaints_blp.route("/complaints/<int:complaint_id>")
@complaints_blp.doc(security=AUTHENTICATED)
@complaints_blp.response(200, ComplaintSchema)
@problems(complaints_blp, 401, 404)
def get_complaint(complaint_id: int):
    """One complaint, for its resident, its provider's staff and officials (404 for others)."""
    user = require_user()
    return complaints.complaint_for(db.session, user, complaint_id)


@complaints_blp.route("/complaints/<int:complaint_id>/response", methods=["POST"])
@complaints_blp.doc(security=AUTHENTICATED)
@complaints_blp.arguments(ResponseInputSchema)
@complaints_blp.response(200, ComplaintSchema)
@problems(complaints_blp, 400, 401, 403, 404, 409, 422)
def respond(data, complaint_id: int):
    """The provider's one response to an open complaint.

    404 another provider's complaint; 409 already responded or decided; 422 empty.
    """
    staff = require_user(Role.PROVIDER_STAFF)
    with unit_of_work():
        complaint = complaints.respond(db.session, staff, complaint_id, data["response"])
    return complaint


@complaints_blp.route("/complaints/<int:complaint_id>/decision", methods=["POST"])
@complaints_blp.doc(security=AUTHENTICATED)
@complaints_blp.arguments(ComplaintDecisionSchema)
@complaints_blp.response(200, ComplaintSchema)
@problems(complaints_blp, 400, 401, 403, 404, 409, 422)
def decide(data, complaint_id: int):
    """An official upholds or dismisses a complaint with a reason; both sides are told.

    422 without a reason; 409 when it is already decided.
    """
    official = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        complaint = complaints.decide(db.session, official, complaint_id, data["outcome"], data["reason"])
    return complaint


@complaints_blp.route("/official/complaints")
@complaints_blp.doc(security=AUTHENTICATED)
@complaints_blp.arguments(ComplaintQueueQuerySchema, location="query")
@complaints_blp.response(200, ComplaintQueueSchema)
@problems(complaints_blp, 401, 403, 422)
def complaint_queue(args):
    """Officials' queue: safety complaints first, then the oldest first (default: undecided)."""
    require_user(*OFFICIAL_ROLES)
    return {
        "status": args["status"],
        "items": complaints.queue(db.session, args["status"]),
        "counts": complaints.queue_counts(db.session),
    }

