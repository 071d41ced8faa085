"""The resident's home location: set once, with consent; corrected only by an official.

Check-ins and check-outs are measured against it (``geo.distance_m``), so who may
write it decides how much a distance proves:

- the **resident** sets it once, from the phone at the door (the browser's
  Geolocation API) or by typing coordinates; after that it is fixed for them — a
  carer who could move "home" to where they stand would make every check-in pass;
- an **official** (the community office, on a home visit or on the phone) may set
  it, and may **correct** it, always with a reason, audited with the old and the
  new position.

Linli has no family-proxy accounts and no grid-worker role yet; when it does, they
join :func:`may_set` (as the resident, set once) without the rest changing.  Every
write needs the resident's consent (PIPL: a precise location is sensitive personal
information), and records who gave it when.  No online map service is involved.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.auth.services import normalise_phone
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import Role, User
from providers.visits.geo import Position
from providers.visits.models import HomeLocation, LocationMethod

MAX_REASON = 500
ALREADY_SET = _l("The home location is already set. To correct it, ask the community office.")


def may_set(actor: User, resident: User) -> bool:
    """Whether ``actor`` may set ``resident``'s home (the first time)."""
    return actor.id == resident.id or actor.is_official


def may_correct(actor: User) -> bool:
    """Whether ``actor`` may change a home already set (officials only, with a reason)."""
    return actor.is_official


def find_resident(session: Session, phone: str) -> User:
    """The resident with this mobile number (NotFound on ``phone`` otherwise)."""
    number = normalise_phone(phone or "")
    if not number:
        raise Invalid(_l("Enter the resident's mobile number."), field="phone")
    resident = session.scalar(sa.select(User).where(User.phone == number, User.role == Role.RESIDENT))
    if resident is None:
        raise NotFound(_l("No resident has this mobile number."), field="phone")
    return resident


def resident_by_id(session: Session, resident_id: int) -> User:
    resident = session.get(User, resident_id)
    if resident is None or resident.role != Role.RESIDENT:
        raise NotFound(_l("No such resident."))
    return resident


def _snapshot(home: HomeLocation) -> dict:
    return {"lat": home.lat, "lon": home.lon, "accuracy_m": home.accuracy_m, "method": home.method,
            "set_by": home.set_by_id}


def set_home(session: Session, resident: User, actor: User, position: Position | None, method: LocationMethod,
             *, consent: bool, reason: str | None = None) -> HomeLocation:
    """Set (or, for an official, correct) ``resident``'s home to ``position``.

    Refusals, each before any write: Forbidden when ``actor`` may not; Invalid on
    ``consent`` when the box was not ticked, on ``location`` without a position, on
    ``reason`` when an official corrects without one; Conflict when the resident
    (not an official) tries to change a home already set.
    """
    if resident.role != Role.RESIDENT:
        raise NotFound(_l("No such resident."))
    if not may_set(actor, resident):
        raise Forbidden(_l("Only the resident or the community office may set the home location."))
    if not consent:
        raise Invalid(_l("The resident must agree that Linli stores the home location."), field="consent")
    if position is None:
        raise Invalid(_l("Give the home's location: use this phone's location or enter the coordinates."),
                      field="location")
    home = session.scalar(sa.select(HomeLocation).where(HomeLocation.resident_id == resident.id).with_for_update())
    reason = (reason or "").strip()
    if home is not None:
        if not may_correct(actor):
            raise Conflict(ALREADY_SET)
        if not reason:
            raise Invalid(_l("Say why the home location is corrected: the reason is recorded."), field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_l("The reason is too long (500 characters at most)."), field="reason")
    before = _snapshot(home) if home is not None else None
    at = now()
    values = dict(lat=position.lat, lon=position.lon, accuracy_m=position.accuracy_m, method=method,
                  consent_at=at, set_by_id=actor.id, set_at=at)
    if home is None:
        # Two first settings racing (the row did not exist to lock): the primary key lets one
        # in; the other is told, in a savepoint so the caller's transaction stays usable.
        home = HomeLocation(resident_id=resident.id, **values)
        try:
            with session.begin_nested():
                session.add(home)
                session.flush()
        except sa.exc.IntegrityError:
            raise Conflict(ALREADY_SET) from None
    else:
        for name, value in values.items():
            setattr(home, name, value)
        session.flush()
    audit.record(session, actor=actor, action="home_location.corrected" if before else "home_location.set",
                 object_type="user", object_id=resident.id, before=before, after=_snapshot(home),
                 reason=reason or None)
    return home
