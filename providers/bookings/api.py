"""Bookings in the JSON API (under ``/api/v1``).

- ``GET /listings/<id>/slots``: the free slots of a published listing (public);
- ``POST /bookings``: a resident requests a slot (409 when it was just taken);
- ``GET /bookings`` and ``GET /bookings/<id>``: a resident's own bookings, or
  the bookings of a staff member's provider (officials may read one booking);
- ``POST /bookings/<id>/actions/<action>``: every change of a booking's state.

The caller's role decides which actions exist for them (a resident cannot
accept: 403); someone else's booking is a 404; a change the state machine
forbids is a 409.  The actions, their guards and the ``actions`` list of a
booking all come from the table in :mod:`providers.bookings.actions`, as the
pages' buttons do.  A second request for a slot the resident already holds
(a doubled request) is a 409 that names the booking they have.  The resident's phone and address are masked for the
provider unless it is serving the booking, and always for officials
(:mod:`providers.bookings.privacy`).  Views are thin: the rules are in
:mod:`providers.bookings.services`, errors become problem documents in
:mod:`app.errors`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import joinedload

from app.api import AUTHENTICATED, PUBLIC, Blueprint, problems, require_user, unit_of_work
from app.db import write_transaction
from app.errors import Forbidden, NotFound, problem
from app.extensions import db
from app.models import Role, User
from providers import registration
from providers.api_schemas import ProviderRefSchema
from providers.bookings import actions, privacy, services
from providers.bookings.models import Booking, BookingStatus
from providers.bookings.slots import available_slots
from providers.catalogue import public_listing

S = BookingStatus
MAX_SLOT_DAYS = 60
MAX_PER_PAGE = 100

bookings_blp = Blueprint(
    "bookings_api",
    __name__,
    url_prefix="/api/v1",
    description="Bookings: free slots, requests, and every change of a booking's state",
)


# Who may call what; checked before the body is parsed, so callers without the
# right learn nothing about validation (401/403 first).
CALLERS = {
    "request_booking": (Role.RESIDENT,),
    "list_bookings": (Role.RESIDENT, Role.PROVIDER_STAFF),
    "get_booking": (),
    "booking_action": (),
}


@bookings_blp.before_request
def _check_caller():
    view = (request.endpoint or "").rpartition(".")[2]
    if view in CALLERS:
        user = require_user(*CALLERS[view])
        action = (request.view_args or {}).get("action")
        if view == "booking_action" and action in ACTION_NAMES and actions.find(user, action) is None:
            abort(403, description=str(_l("Your role may not do this.")))


# --- Schemas -------------------------------------------------------------------------------


class SlotQuerySchema(Schema):
    days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=MAX_SLOT_DAYS),
                          metadata={"description": "Local days ahead, from today."})


class SlotSchema(Schema):
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    places_left = fields.Integer()


class SlotsSchema(Schema):
    listing_id = fields.Integer()
    slots = fields.List(fields.Nested(SlotSchema))


class BookingRequestSchema(Schema):
    listing_id = fields.Integer(strict=True, required=True)
    starts_at = fields.AwareDateTime(
        required=True,
        error_messages={"naive": "Give the time with its UTC offset, e.g. 2026-11-03T09:00:00+08:00."},
        metadata={"description": "A slot start from /listings/{id}/slots, ISO 8601 with its offset."},
    )
    address = fields.String(required=True, metadata={"maxLength": 200})
    note = fields.String(load_default="", metadata={"maxLength": 1000})


class BookingQuerySchema(Schema):
    status = fields.Enum(BookingStatus, by_value=True, load_default=None, metadata={"type": "string"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ActionSchema(Schema):
    reason = fields.String(
        load_default="",
        metadata={"maxLength": 1000, "description": "Required to decline, for a provider's cancellation "
                  "and for an official's no-show confirmation."},
    )
    carer_id = fields.Integer(
        load_default=None, allow_none=True,
        metadata={"description": "To accept: the carer of the provider's roster who serves the visit "
                  "(active, qualified for the service on its day, free at that time)."},
    )
    # The visit's facts, as the carer's phone page sends them (providers/visits/services.py).
    # Numbers or decimal strings; the service checks them (a clear 422 on "location").
    lat = fields.Raw(load_default=None, allow_none=True,
                     metadata={"type": "number", "description": "check-in / complete: the device's latitude."})
    lon = fields.Raw(load_default=None, allow_none=True,
                     metadata={"type": "number", "description": "check-in / complete: the device's longitude."})
    accuracy = fields.Raw(load_default=None, allow_none=True,
                          metadata={"type": "number", "description": "check-in / complete: its accuracy (metres)."})
    code = fields.String(load_default="", validate=validate.Length(max=12),
                         metadata={"description": "complete: the resident's one-time visit code (or a card code)."})
    short_reason = fields.String(load_default="", validate=validate.Length(max=500),
                                 metadata={"description": "complete: why the visit ends before its minimum share."})
    tasks = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list,
                        validate=validate.Length(max=12),
                        metadata={"description": "complete: the tasks done, from the listing's checklist."})


class BookedListingSchema(Schema):
    id = fields.Integer()
    title = fields.String()


class ContactSchema(Schema):
    name = fields.String()
    phone = fields.String(metadata={"description": "Masked (138****5678) unless you may see it."})
    address = fields.String()
    masked = fields.Boolean()


class CarerRefSchema(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "For the provider's staff and officials only."})
    name = fields.String(metadata={"description": "A resident sees the family name and a title (王师傅) only."})


class BookingSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": [s.value for s in BookingStatus]})
    status_label = fields.String()
    listing = fields.Nested(BookedListingSchema)
    provider = fields.Nested(ProviderRefSchema)
    community_id = fields.Integer()
    price_fen = fields.Integer()
    note = fields.String()
    contact = fields.Nested(ContactSchema)
    carer = fields.Nested(CarerRefSchema, allow_none=True, metadata={"description": "Assigned at acceptance."})
    requested_at = fields.DateTime()
    respond_by = fields.DateTime()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    grace_minutes = fields.Integer()
    responded_at = fields.DateTime(allow_none=True)
    checked_in_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    auto_confirmed = fields.Boolean()
    closed_at = fields.DateTime(allow_none=True)
    status_reason = fields.String(allow_none=True)
    no_show_reported_at = fields.DateTime(allow_none=True)
    late_response = fields.Boolean()
    late_start = fields.Boolean()
    late_finish = fields.Boolean()
    late_cancellation = fields.Boolean()
    actions = fields.List(fields.String(), metadata={"description": "Actions the caller may try now."})


# The booking's own attributes in BookingSchema (the rest is built by booking_body).
PLAIN_FIELDS = tuple(name for name in BookingSchema().fields
                     if name not in ("listing", "provider", "contact", "actions"))


class BookingPageSchema(Schema):
    items = fields.List(fields.Nested(BookingSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


# --- Who may do what (the action table) ----------------------------------------------------

ACTION_NAMES = actions.NAMES


def actions_now(booking: Booking, user: User) -> list[str]:
    """The actions ``user`` may do to ``booking`` now (the rows its guards allow)."""
    return [action.name for action in actions.available(booking, user)]


def contact_for(booking: Booking, user: User) -> privacy.Contact:
    if user.is_resident:
        return privacy.unmasked(booking)
    if user.is_provider_staff:
        return privacy.contact_for_provider(booking)
    return privacy.masked(booking)


def booking_body(booking: Booking, user: User) -> dict:
    """The booking as ``user`` may see it (contact masked by the rules)."""
    contact = contact_for(booking, user)
    return {
        **{name: getattr(booking, name) for name in PLAIN_FIELDS},
        "listing": {"id": booking.listing_id, "title": booking.listing.title},
        "provider": {"id": booking.provider_id, "name": booking.provider.name},
        "contact": {"name": booking.resident.name, "phone": contact.phone, "address": contact.address,
                    "masked": contact.masked},
        "carer": _carer_for(booking, user),
        "actions": actions_now(booking, user),
    }


def _carer_for(booking: Booking, user: User) -> dict | None:
    """Who serves the visit: the full name for the provider's staff and officials, the family
    name and a title for the resident (no id, no phone)."""
    if booking.carer is None:
        return None
    if user.is_resident:
        return {"id": None, "name": booking.carer.short_name}
    return {"id": booking.carer.id, "name": booking.carer.name}


@contextmanager
def writing():
    """One transaction that writes contended rows (slots, a booking), committed at the end.

    Authentication may already have changed the session (a bearer token's
    last use); that is committed first, as ``write_transaction`` must begin
    with nothing pending.  Any error rolls back everything the block did.
    """
    db.session.commit()
    with unit_of_work(), write_transaction(db.session):
        yield


def _booking_for(user: User, booking_id: int, *, for_update: bool = False) -> Booking:
    """The booking if ``user`` may see it: their own, their provider's, or any for officials; else 404."""
    if user.is_resident:
        return services.resident_booking(db.session, user, booking_id, for_update=for_update)
    if user.is_provider_staff:
        provider = registration.provider_of(db.session, user)
        return services.provider_booking(db.session, provider.id, booking_id, for_update=for_update)
    if not user.is_official:
        # Not "everyone else": a role that is neither a party nor an official (an evaluator) sees no booking.
        raise Forbidden(_l("Your role may not see bookings."))
    stmt = sa.select(Booking).where(Booking.id == booking_id)
    booking = db.session.scalar(stmt.with_for_update() if for_update else stmt)
    if booking is None:
        raise NotFound(_l("No such booking."))
    return booking


# --- Views ---------------------------------------------------------------------------------


@bookings_blp.route("/listings/<int:listing_id>/slots")
@bookings_blp.doc(security=PUBLIC)
@bookings_blp.arguments(SlotQuerySchema, location="query")
@bookings_blp.response(200, SlotsSchema)
@problems(bookings_blp, 404, 422)
def listing_slots(args, listing_id: int):
    """The listing's upcoming slots with places left (full and imminent slots left out); 404 unless public."""
    listing = public_listing(db.session, listing_id)
    length = timedelta(minutes=listing.duration_minutes)
    return {
        "listing_id": listing.id,
        "slots": [{"starts_at": start, "ends_at": start + length, "places_left": left}
                  for start, left in available_slots(db.session, listing, days=args["days"])],
    }


@bookings_blp.route("/bookings", methods=["POST"])
@bookings_blp.doc(security=AUTHENTICATED)
@bookings_blp.arguments(BookingRequestSchema)
@bookings_blp.response(201, BookingSchema)
@problems(bookings_blp, 400, 401, 403, 404, 409, 422)
def request_booking(data):
    """A resident requests a slot of a published listing in their community.

    409 with ``booking_id`` (and ``Location``) when the resident already holds a live
    booking of this slot: a repeated request makes no second booking.  422 with the field at fault (a time outside the availability, in the past,
    too soon, beyond the horizon, without an offset; a missing address; a
    listing not offered in the resident's community); 409 "this slot was just
    taken" when its last place went to someone else; 404 for a listing that
    is not public.  Nothing is written unless the booking is made.
    """
    user = require_user(Role.RESIDENT)
    starts_at = data["starts_at"]
    try:
        with writing():
            booking = services.request_booking(
                db.session, user, listing_id=data["listing_id"], starts_at=starts_at,
                address=data["address"], note=data["note"],
            )
            # Read (as stored: times in UTC) before the commit, so that a database lost just
            # after it cannot turn the made booking into a 503 (and invite a second one).
            db.session.refresh(booking)
            body = booking_body(booking, user)
    except services.AlreadyBooked as duplicate:
        # A doubled request: 409 naming the booking the first one made (rolled back, nothing written).
        response = problem(409, duplicate.code, str(duplicate), booking_id=duplicate.booking_id,
                           errors={"starts_at": [str(duplicate)]})
        response.headers["Location"] = url_for("bookings_api.get_booking", booking_id=duplicate.booking_id)
        return response
    return body


@bookings_blp.route("/bookings")
@bookings_blp.doc(security=AUTHENTICATED)
@bookings_blp.arguments(BookingQuerySchema, location="query")
@bookings_blp.response(200, BookingPageSchema)
@problems(bookings_blp, 401, 403, 422)
def list_bookings(args):
    """The resident's own bookings, or the bookings of the staff member's provider;
    newest start first, optionally in one ``status``.  403 for other roles."""
    user = require_user(Role.RESIDENT, Role.PROVIDER_STAFF)
    if user.is_resident:
        scope = Booking.resident_id == user.id
    else:
        scope = Booking.provider_id == registration.provider_of(db.session, user).id
    stmt = sa.select(Booking).where(scope)
    if args["status"] is not None:
        stmt = stmt.where(Booking.status == args["status"])
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(
        stmt.options(joinedload(Booking.listing), joinedload(Booking.provider), joinedload(Booking.resident),
                     joinedload(Booking.carer))
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    )
    return {
        "items": [booking_body(booking, user) for booking in items],
        "total": total, "page": page, "per_page": per_page, "pages": max(1, math.ceil(total / per_page)),
    }


@bookings_blp.route("/bookings/<int:booking_id>")
@bookings_blp.doc(security=AUTHENTICATED)
@bookings_blp.response(200, BookingSchema)
@problems(bookings_blp, 401, 404)
def get_booking(booking_id: int):
    """One booking: the resident's own, one of the staff member's provider, or any for officials
    (contact masked as the rules say); 404 for anyone else."""
    user = require_user()
    return booking_body(_booking_for(user, booking_id), user)


ACTION_PARAMETER = {
    "in": "path", "name": "action", "required": True,
    "description": " ".join(f"{who}: {', '.join(actions.BY_PARTY[party])}." for party, who in (
        (actions.Party.RESIDENT, "Residents"), (actions.Party.PROVIDER, "Provider staff"),
        (actions.Party.OFFICIAL, "Officials"))),
    "schema": {"type": "string", "enum": list(ACTION_NAMES)},
}


def _action_fields(service: str, data: dict) -> dict:
    """The inputs of the action's own row: the carer to accept; the visit's facts to check
    in or out (an API client has no device cookie: no device digest)."""
    from providers.visits.services import VisitFacts

    if service == "accept":
        return {"carer_id": data.get("carer_id")}
    if service == "check_in":
        return {"facts": VisitFacts(lat=data.get("lat"), lon=data.get("lon"), accuracy=data.get("accuracy"))}
    if service == "complete":
        return {"facts": VisitFacts(lat=data.get("lat"), lon=data.get("lon"), accuracy=data.get("accuracy"),
                                    code=data.get("code") or "", short_reason=data.get("short_reason") or "",
                                    tasks=tuple(data.get("tasks") or ()))}
    return {}


@bookings_blp.route("/bookings/<int:booking_id>/actions/<action>", methods=["POST"],
                    parameters=[ACTION_PARAMETER])
@bookings_blp.doc(security=AUTHENTICATED)
@bookings_blp.arguments(ActionSchema, required=False)
@bookings_blp.response(200, BookingSchema)
@problems(bookings_blp, 400, 401, 403, 404, 409, 422)
def booking_action(data, booking_id: int, action: str):
    """Change a booking's state; answers the booking as it is now.

    404 for an unknown action or someone else's booking; 403 for an action
    the caller's role may not take (a resident cannot accept); 409 for a
    change the state machine forbids now; 422 for a missing reason or a time
    rule (checking in more than an hour early, reporting a no-show too soon).
    """
    user = require_user()
    if action not in ACTION_NAMES:
        raise NotFound(_l("No such action."))
    row = actions.find(user, action)
    if row is None:
        abort(403, description=str(_l("Your role may not do this.")))
    extra = _action_fields(row.service, data)
    from providers.visits.services import WrongCode

    wrong = None
    with writing():
        booking = _booking_for(user, booking_id, for_update=True)
        try:
            services.perform(db.session, row, booking, user, data.get("reason") or "", **extra)
        except WrongCode as refusal:
            # A wrong visit code is refused, but the attempt counts (committed, as on the page):
            # the code locks after a few, so it cannot be guessed through the API either.
            wrong = refusal
    if wrong is not None:
        raise wrong
    return booking_body(booking, user)
