"""Positions: parsing what a browser or a person sends, and the distance between two.

No online map service: the distance is the haversine great-circle distance on a
sphere of the Earth's mean radius (6,371,008.8 m), rounded to the metre — well
within a phone's accuracy at the few hundred metres a check-in radius spans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.errors import Invalid

EARTH_RADIUS_M = 6_371_008.8
MAX_ACCURACY_M = 100_000


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    accuracy_m: float | None = None


def _number(raw, field: str) -> float:
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        raise Invalid(_l("The location is not a number."), field=field) from None
    if not math.isfinite(value):
        raise Invalid(_l("The location is not a number."), field=field)
    return value


def parse_position(lat, lon, accuracy=None, *, field: str = "location") -> Position | None:
    """A position from form or JSON values; None when both coordinates are empty (the
    browser gave none); Invalid on ``field`` for anything malformed or out of range."""
    if (lat is None or str(lat).strip() == "") and (lon is None or str(lon).strip() == ""):
        return None
    if lat is None or str(lat).strip() == "" or lon is None or str(lon).strip() == "":
        raise Invalid(_l("The location needs both a latitude and a longitude."), field=field)
    lat_value, lon_value = _number(lat, field), _number(lon, field)
    if not -90 <= lat_value <= 90:
        raise Invalid(_l("The latitude must be between -90 and 90."), field=field)
    if not -180 <= lon_value <= 180:
        raise Invalid(_l("The longitude must be between -180 and 180."), field=field)
    accuracy_value = None
    if accuracy is not None and str(accuracy).strip() != "":
        accuracy_value = _number(accuracy, field)
        if not 0 <= accuracy_value <= MAX_ACCURACY_M:
            raise Invalid(_l("The location's accuracy is out of range."), field=field)
    return Position(lat_value, lon_value, accuracy_value)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """The great-circle distance in metres (haversine), rounded half-up."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return int(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) + 0.5)


def home_of(session: Session, resident_id: int):
    """The resident's :class:`~providers.visits.models.HomeLocation`, or None."""
    from providers.visits.models import HomeLocation

    return session.get(HomeLocation, resident_id)
