"""Factories: build valid objects with as little ceremony as the test needs.

Each factory adds to ``db.session`` and commits (in tests a commit only releases
a SAVEPOINT, so a view that rolls back cannot undo the arranged data); the per-test transaction is
rolled back afterwards.
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.models import Community, CommunityTier, Role, User
from app.passwords import hash_password
from providers import creditcode
from providers.models import (
    AvailabilityWindow,
    Listing,
    ListingStatus,
    PricingUnit,
    Provider,
    ProviderStaff,
    ProviderStatus,
    ServiceCategory,
)
from tests.conftest import PASSWORD

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def phone() -> str:
    return f"139{_n():08d}"


def credit_code(seed: int | None = None) -> str:
    """A valid unified social credit code (check character computed)."""
    seed = _n() if seed is None else seed
    body = f"9135010{seed:09d}"[:16] + "X"
    body = body.replace("I", "1").replace("O", "0")
    return body + creditcode.check_character(body)


def category(code: str = "housekeeping") -> ServiceCategory:
    return db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == code))


def community(**kwargs) -> Community:
    n = _n()
    values = {"code": f"c{n}", "name": f"社区{n}", "district": "淄川区", "tier": CommunityTier.BASIC}
    values.update(kwargs)
    obj = Community(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def user(role: Role = Role.RESIDENT, community_obj: Community | None = None, **kwargs) -> User:
    if role == Role.RESIDENT and community_obj is None:
        community_obj = community()
    values = {
        "phone": phone(),
        "name": f"用户{_n()}",
        "password_hash": hash_password(PASSWORD),
        "role": role,
        "community": community_obj,
    }
    values.update(kwargs)
    obj = User(**values)
    db.session.add(obj)
    db.session.commit()
    return obj


def resident(community_obj: Community | None = None, **kwargs) -> User:
    return user(Role.RESIDENT, community_obj, **kwargs)


def official(**kwargs) -> User:
    return user(Role.OFFICIAL, **kwargs)


def admin(**kwargs) -> User:
    return user(Role.ADMIN, **kwargs)


def provider(
    status: ProviderStatus = ProviderStatus.ACTIVE,
    communities: list[Community] | None = None,
    categories: list[str] = ("housekeeping", "repairs"),
    **kwargs,
) -> Provider:
    n = _n()
    values = {
        "name": f"服务机构{n}",
        "credit_code": credit_code(n),
        "legal_representative": "张三",
        "contact_name": "李四",
        "contact_phone": phone(),
        "status": status,
        "submitted_at": now(),
        "activated_at": now() if status == ProviderStatus.ACTIVE else None,
    }
    values.update(kwargs)
    obj = Provider(**values)
    obj.categories = [category(code) for code in categories]
    obj.communities = communities if communities is not None else [community()]
    db.session.add(obj)
    db.session.flush()
    # Every provider has a carer on its roster, so a page test can accept a booking with the
    # form the page renders (its carer choice defaults to this carer).
    from tests.carer_helpers import carer

    carer(obj.id, name="王秀兰")
    db.session.commit()
    return obj


def staff(provider_obj: Provider | None = None, is_owner: bool = True) -> User:
    provider_obj = provider_obj or provider()
    member = user(Role.PROVIDER_STAFF)
    db.session.add(ProviderStaff(user_id=member.id, provider_id=provider_obj.id, is_owner=is_owner))
    db.session.commit()
    return member


def listing(
    provider_obj: Provider | None = None,
    status: ListingStatus = ListingStatus.PUBLISHED,
    category_code: str = "housekeeping",
    communities: list[Community] | None = None,
    **kwargs,
) -> Listing:
    provider_obj = provider_obj or provider()
    values = {
        "title": f"上门保洁{_n()}",
        "description": "两小时深度保洁，自带工具。",
        "price_fen": 12000,
        "pricing_unit": PricingUnit.PER_VISIT,
        "duration_minutes": 120,
        "response_hours": 4,
        "status": status,
        "published_at": now() if status == ListingStatus.PUBLISHED else None,
    }
    values.update(kwargs)
    obj = Listing(provider_id=provider_obj.id, category_id=category(category_code).id, **values)
    obj.search_text = f"{obj.title}\n{obj.description}".lower()
    obj.communities = communities if communities is not None else list(provider_obj.communities)
    obj.availability = [
        AvailabilityWindow(weekday=d, start_minute=9 * 60, end_minute=17 * 60, capacity=2)
        for d in range(5)
    ]
    db.session.add(obj)
    db.session.commit()
    return obj


def next_slot(listing_obj: Listing, days_ahead: int = 1, hour: int = 9):
    """A slot start (UTC) of the factory listing's availability, ``days_ahead`` local days on
    a weekday (the factory's windows are Mon–Fri 9:00–17:00 local)."""
    from datetime import datetime, time, timedelta, timezone

    from app.clock import local, now, zone

    day = local(now()).date() + timedelta(days=days_ahead)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=zone()).astimezone(timezone.utc)


def booking(listing_obj: Listing | None = None, resident_obj: User | None = None, starts_at=None, **kwargs):
    """A requested booking made through the real service."""
    from providers.bookings import services

    listing_obj = listing_obj or listing()
    resident_obj = resident_obj or resident(listing_obj.communities[0])
    obj = services.request_booking(
        db.session, resident_obj, listing_id=listing_obj.id,
        starts_at=starts_at or next_slot(listing_obj), address=kwargs.pop("address", "城里社区3号楼2单元101"),
        note=kwargs.pop("note", ""),
    )
    db.session.commit()
    return obj
