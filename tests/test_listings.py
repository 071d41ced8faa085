"""A provider's listings: create, edit (versions), status changes, history, access."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.models import Role
from providers.models import (
    AvailabilityWindow,
    Listing,
    ListingStatus,
    ListingVersion,
    ProviderStatus,
)
from tests import factories
from tests.forms import open_page, submit
from tests.helpers import count


@pytest.fixture
def shop(en, auth):
    """An active provider serving communities A and B, its logged-in staff member."""
    a = factories.community(name="城里社区")
    b = factories.community(name="般阳社区")
    provider = factories.provider(communities=[a, b], categories=["housekeeping", "repairs"])
    member = factories.staff(provider)
    auth.login(member)
    return provider, member, a, b


def form_data(community, **changes) -> dict:
    data = {
        "category_id": factories.category("housekeeping").id,
        "title": "上门深度保洁",
        "description": "两小时深度保洁，自带工具。",
        "price": "120",
        "pricing_unit": "per_visit",
        "duration_minutes": "120",
        "response_hours": "4",
        "community_ids": [community.id],
        "mon-available": "y",
        "mon-start": "09:00",
        "mon-end": "17:00",
        "mon-capacity": "2",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def fields(community, **changes) -> dict:
    """What the staff member fills in on the listing form: ``None`` unticks a box, and the
    edit page's hidden version is the page's own."""
    data = form_data(community, **changes)
    data.update({k: v for k, v in changes.items() if v is None})
    data.pop("version", None)
    return data


def save_new(client, community, **changes):
    return submit(client, "/provider/listings/new", fields=fields(community, **changes))


def save_edit(client, listing, community, page=None, **changes):
    """Save the edit form (of ``page``, opened earlier, or opened now)."""
    page = page or open_page(client, f"/provider/listings/{listing.id}/edit")
    return page.submit(fields=fields(community, **changes))


def nothing_written(session, provider) -> bool:
    """No listing, version or listing audit event of this provider (other tests' rows do not count)."""
    ids = sa.select(Listing.id).where(Listing.provider_id == provider.id).scalar_subquery()
    return (
        count(Listing, Listing.provider_id == provider.id) == 0
        and count(ListingVersion, ListingVersion.listing_id.in_(ids)) == 0
        and count(AuditEvent, AuditEvent.object_type == "listing", AuditEvent.object_id.in_(ids)) == 0
    )


def listing_events(session, listing) -> list[str]:
    return session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_type == "listing", AuditEvent.object_id == listing.id)
        .order_by(AuditEvent.id)
    ).all()


def create(client, community, **changes) -> Listing:
    response = save_new(client, community, **changes)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    from app.extensions import db

    return db.session.scalar(sa.select(Listing).order_by(Listing.id.desc()).limit(1))


# --- create --------------------------------------------------------------------


def test_new_listing_form_offers_only_the_providers_categories_and_communities(client, shop):
    provider, _member, a, b = shop
    elsewhere = factories.community(name="别处社区")
    page = client.get("/provider/listings/new").get_data(as_text=True)
    assert "Housekeeping" in page and "Repairs" in page
    assert "Home medical visit" not in page
    assert "城里社区" in page and "般阳社区" in page and "别处社区" not in page
    assert f'name="community_ids" value="{elsewhere.id}"' not in page
    assert f'name="community_ids" value="{a.id}"' in page
    assert 'name="mon-available"' in page and 'name="sun-capacity"' in page


def test_staff_creates_a_draft_listing_as_version_1(client, shop, db_session):
    provider, member, a, _b = shop
    data = form_data(a, price="99.50", **{"sat-available": "y", "sat-start": "08:00", "sat-end": "12:00",
                                          "sat-capacity": "1", "sat-start2": "14:00", "sat-end2": "18:00"})
    response = submit(client, "/provider/listings/new", fields=data)
    assert response.status_code == 302 and response.headers["Location"].endswith("/provider/listings")
    listing = db_session.scalar(sa.select(Listing).where(Listing.provider_id == provider.id))
    assert listing.status == ListingStatus.DRAFT and listing.version == 1
    assert listing.price_fen == 9950 and listing.duration_minutes == 120 and listing.response_hours == 4
    assert [c.id for c in listing.communities] == [a.id]
    assert [(w.weekday, w.start_minute, w.end_minute, w.capacity) for w in listing.availability] == [
        (0, 540, 1020, 2), (5, 480, 720, 1), (5, 840, 1080, 1)  # second window takes the day's capacity
    ]
    assert listing.search_text == "上门深度保洁\n两小时深度保洁，自带工具。"
    versions = db_session.scalars(sa.select(ListingVersion).where(ListingVersion.listing_id == listing.id)).all()
    assert [(v.version, v.created_by_id) for v in versions] == [(1, member.id)]
    event = db_session.scalar(sa.select(AuditEvent).where(AuditEvent.object_id == listing.id,
                                                          AuditEvent.object_type == "listing"))
    assert event.action == "listing.created" and event.actor_id == member.id
    assert event.after["price_fen"] == 9950
    page = client.get("/provider/listings").get_data(as_text=True)
    assert "上门深度保洁" in page and "¥99.50" in page and "per visit" in page and "Version 1" in page
    assert "badge-draft" in page


def test_prices_typed_with_currency_signs_are_understood(client, shop):
    _provider, _member, a, _b = shop
    for typed, fen in (("￥88", 8800), ("88元", 8800), ("¥1,280.5", 128050), (" 99.9 ", 9990)):
        assert create(client, a, price=typed).price_fen == fen, typed


def test_times_typed_in_other_common_ways_are_understood(client, shop):
    _provider, _member, a, _b = shop
    listing = create(client, a, **{"mon-start": "9:00", "mon-end": "17：30", "mon-capacity": " 3 "},
                     price="¥1,280", pricing_unit="per_hour")
    assert listing.price_fen == 128000 and listing.pricing_unit == "per_hour"
    assert [(w.start_minute, w.end_minute, w.capacity) for w in listing.availability] == [(540, 1050, 3)]


# Each case: form changes, the field whose error shows, words of the message.
BAD_INPUT = [
    ({"price": "abc"}, "price", "as a number of yuan"),
    ({"price": ""}, "price", "Enter the price in yuan"),
    ({"price": "-5"}, "price", "cannot be negative"),
    ({"price": "1.234"}, "price", "at most two decimal places"),
    ({"price": "0"}, "price", "more than zero"),
    ({"price": "999999"}, "price", "between ¥1.00 and ¥50,000.00"),
    ({"price": "0.50"}, "price", "between ¥1.00 and ¥50,000.00"),
    ({"price": "NaN"}, "price", "as a number of yuan"),
    ({"price": "1e999999"}, "price", "as a number of yuan"),
    ({"price": "12O"}, "price", "as a number of yuan"),
    ({"price": "1" * 40}, "price", "as a number of yuan"),
    ({"title": "  "}, "title", "Give the service a title"),
    ({"title": "长" * 121}, "title", "too long"),
    ({"description": ""}, "description", "Describe the service"),
    ({"category_id": "999999"}, "category_id", "Choose a service category from the list"),
    ({"category_id": "abc"}, "category_id", "Choose a service category from the list"),
    ({"pricing_unit": "per_year"}, "pricing_unit", "Choose per visit or per hour"),
    ({"duration_minutes": "abc"}, "duration_minutes", "whole number of minutes"),
    ({"duration_minutes": "1.5"}, "duration_minutes", "whole number of minutes"),
    ({"duration_minutes": "5"}, "duration_minutes", "between 15 and 720 minutes"),
    ({"duration_minutes": "100000"}, "duration_minutes", "between 15 and 720 minutes"),
    ({"response_hours": "0"}, "response_hours", "between 1 and 168 hours"),
    ({"response_hours": "x"}, "response_hours", "whole number of hours"),
    ({"community_ids": []}, "community_ids", "Choose at least one community"),
    ({"community_ids": ["abc"]}, "community_ids", "communities your organisation serves"),
    ({"mon-available": None}, "availability", "Add at least one weekly time window"),
    ({"mon-capacity": "0"}, "availability", "Capacity per slot must be between 1 and 50"),
    ({"mon-capacity": "51"}, "availability", "Capacity per slot must be between 1 and 50"),
    ({"mon-capacity": "two"}, "mon-capacity", "whole number"),
    ({"mon-capacity": ""}, "mon-capacity", "whole number"),
    ({"mon-start": "17:00", "mon-end": "09:00"}, "availability", "must end after it starts"),
    ({"mon-start": "25:00"}, "mon-start", "HH:MM"),
    ({"mon-end": "5pm"}, "mon-end", "HH:MM"),
    ({"mon-start": ""}, "mon-start", "starts"),
    ({"mon-end": "10:00"}, "availability", "at least as long as the service"),
    ({"mon-end": "13:00", "mon-start2": "12:00", "mon-end2": "17:00"}, "availability", "overlap"),
    ({"mon-start2": "18:00"}, "mon-end2", "second window ends"),
]


# The BAD_INPUT values no option of the form offers.
TAMPERED = {"category_id": {"999999", "abc"}, "pricing_unit": {"per_year"}, "community_ids": {"['abc']"}}


@pytest.mark.parametrize(("changes", "field", "words"), BAD_INPUT, ids=[c[1] + ":" + "|".join(map(str, c[0].values())) for c in BAD_INPUT])
def test_bad_input_shows_a_message_on_its_field_and_creates_nothing(client, shop, db_session, changes, field, words):
    _provider, _member, a, _b = shop
    if field in TAMPERED and set(map(str, changes.values())) & TAMPERED[field]:
        # A choice the page does not offer: a tampered body, posted raw on purpose.
        response = client.post("/provider/listings/new", data=form_data(a, **changes))
    else:
        response = save_new(client, a, **changes)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page, page[:200]
    assert words in page
    assert nothing_written(db_session, _provider)


def test_a_category_or_community_the_provider_is_not_registered_for_is_refused(client, shop, db_session):
    provider, _member, a, _b = shop
    other = factories.community()
    for changes, field, words in [
        ({"category_id": factories.category("home_medical").id}, "category_id", "not registered for this category"),
        ({"community_ids": [a.id, other.id]}, "community_ids", "communities your organisation serves"),
    ]:
        # The form offers only the provider's own: these bodies are tampered, posted raw on purpose.
        response = client.post("/provider/listings/new", data=form_data(a, **changes))
        assert response.status_code == 422
        assert f'id="{field}-error"' in response.get_data(as_text=True) and words in response.get_data(as_text=True)
    assert nothing_written(db_session, provider)


@pytest.mark.parametrize("status", [ProviderStatus.PENDING, ProviderStatus.REJECTED, ProviderStatus.SUSPENDED])
def test_a_provider_that_is_not_active_cannot_create_listings(client, auth, en, db_session, status):
    community = factories.community()
    provider = factories.provider(status=status, communities=[community])
    auth.login(factories.staff(provider))
    page = client.get("/provider/listings/new")
    assert page.status_code == 200
    assert "must be approved (active) to manage listings" in page.get_data(as_text=True)
    assert 'name="title"' not in page.get_data(as_text=True)
    assert "New listing</a>" not in client.get("/provider/listings").get_data(as_text=True)
    # The page shows no form: the post is hand-made, to test the guard.
    response = client.post("/provider/listings/new", data=form_data(community))
    assert response.status_code == 409
    assert "must be approved (active) to manage listings" in response.get_data(as_text=True)
    assert nothing_written(db_session, provider)


# --- edit and history -------------------------------------------------------------


def test_edit_form_shows_the_saved_listing(client, shop):
    _provider, _member, a, _b = shop
    listing = create(client, a, price="99.50", **{"tue-available": "y", "tue-start": "13:00", "tue-end": "18:30",
                                                  "tue-capacity": "4"})
    page = client.get(f"/provider/listings/{listing.id}/edit").get_data(as_text=True)
    assert 'value="上门深度保洁"' in page and 'value="99.50"' in page
    assert 'name="version" type="hidden" value="1"' in page
    assert 'id="tue-available" name="tue-available" type="checkbox" value="y"' in page.replace(" checked", "")
    assert 'value="13:00"' in page and 'value="18:30"' in page and 'value="4"' in page


def test_each_save_is_a_new_version_and_the_history_shows_every_version(client, shop, db_session):
    _provider, member, a, b = shop
    listing = create(client, a)
    response = save_edit(client, listing, a, title="上门深度保洁（加长）", price="150", community_ids=[a.id, b.id],
                         **{"wed-available": "y", "wed-start": "10:00", "wed-end": "16:00", "wed-capacity": "1"})
    assert response.status_code == 302
    db_session.expire_all()
    listing = db_session.get(Listing, listing.id)
    assert listing.version == 2 and listing.price_fen == 15000 and listing.title == "上门深度保洁（加长）"
    assert len(listing.communities) == 2 and len(listing.availability) == 2
    versions = db_session.scalars(
        sa.select(ListingVersion).where(ListingVersion.listing_id == listing.id).order_by(ListingVersion.version)
    ).all()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].snapshot["price_fen"] == 12000 and versions[1].snapshot["price_fen"] == 15000
    updated = db_session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "listing.updated",
                                                            AuditEvent.object_id == listing.id))
    assert updated.before["title"] == "上门深度保洁" and updated.after["title"] == "上门深度保洁（加长）"

    page = client.get(f"/provider/listings/{listing.id}/history").get_data(as_text=True)
    assert 'id="version-1"' in page and 'id="version-2"' in page
    assert page.index('id="version-2"') < page.index('id="version-1"')  # newest first
    assert "¥120.00" in page and "¥150.00" in page and member.name in page
    assert "Changed: title, price, communities, availability" in page
    assert "Wednesday 10:00–16:00" in page and "Monday 09:00–17:00" in page
    assert "般阳社区" in page


def test_a_stale_edit_is_refused_instead_of_overwriting(client, shop, db_session):
    _provider, _member, a, _b = shop
    listing = create(client, a)
    opened_earlier = open_page(client, f"/provider/listings/{listing.id}/edit")  # version 1
    assert save_edit(client, listing, a, price="130").status_code == 302
    stale = save_edit(client, listing, a, page=opened_earlier, price="140")
    assert stale.status_code == 409 and "Someone else saved this listing" in stale.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Listing, listing.id).price_fen == 13000
    assert count(ListingVersion, ListingVersion.listing_id == listing.id) == 2


def test_bad_input_on_edit_changes_nothing(client, shop, db_session):
    _provider, _member, a, _b = shop
    listing = create(client, a)
    for changes in ({"price": "-1"}, {"mon-capacity": "0"}, {"duration_minutes": "9999"}, {"community_ids": []}):
        response = save_edit(client, listing, a, **changes)
        assert response.status_code == 422, changes
    db_session.expire_all()
    listing = db_session.get(Listing, listing.id)
    assert listing.version == 1 and listing.price_fen == 12000 and listing.availability[0].capacity == 2
    assert count(ListingVersion, ListingVersion.listing_id == listing.id) == 1
    assert listing_events(db_session, listing) == ["listing.created"]


def test_an_archived_listing_cannot_be_edited(client, shop, db_session):
    provider, _member, a, _b = shop
    listing = factories.listing(provider, status=ListingStatus.ARCHIVED)
    page = client.get(f"/provider/listings/{listing.id}/edit")
    assert "archived listing cannot be changed" in page.get_data(as_text=True)
    # The page shows no form: the post is hand-made, to test the guard.
    response = client.post(f"/provider/listings/{listing.id}/edit", data=form_data(a, version="1"))
    assert response.status_code == 409
    db_session.expire_all()
    assert db_session.get(Listing, listing.id).title != "上门深度保洁"


# --- status --------------------------------------------------------------------------


def post_status(client, listing, status):
    """Press the listing card's button for ``status`` on the listings page."""
    return submit(client, "/provider/listings", action=f"/provider/listings/{listing.id}/status",
                  button=("status", status))


def post_status_raw(client, listing, status):
    """A hand-made status change: access rules, moves the page does not offer, tampered values."""
    return client.post(f"/provider/listings/{listing.id}/status", data={"status": status})


def test_publish_pause_resume_archive_each_recorded(client, shop, db_session, clock):
    _provider, member, a, _b = shop
    listing = create(client, a)
    for status, expected in [("published", "Published"), ("paused", "Paused"),
                             ("published", "Published"), ("archived", "Archived")]:
        clock.advance(minutes=1)
        response = post_status(client, listing, status)
        assert response.status_code == 302, status
        db_session.expire_all()
        assert db_session.get(Listing, listing.id).status == status
        assert expected in client.get("/provider/listings").get_data(as_text=True)
    assert db_session.get(Listing, listing.id).published_at is not None
    assert listing_events(db_session, listing) == ["listing.created", "listing.published", "listing.paused", "listing.published",
                       "listing.archived"]
    history = client.get(f"/provider/listings/{listing.id}/history").get_data(as_text=True)
    assert history.count("<tr>") == 1 + 4 and member.name in history


def test_buttons_follow_the_state_machine(client, shop):
    provider, _member, _a, _b = shop
    rows = {status: factories.listing(provider, status=status, title=f"清单{status.value}") for status in ListingStatus}
    page = client.get("/provider/listings").get_data(as_text=True)

    def card(status):
        start = page.index(f'id="listing-{rows[status].id}"')
        end = page.find("</article>", start)
        return page[start:end]

    assert 'value="published"' in card(ListingStatus.DRAFT) and 'value="archived"' in card(ListingStatus.DRAFT)
    assert 'value="paused"' not in card(ListingStatus.DRAFT)
    assert 'value="paused"' in card(ListingStatus.PUBLISHED) and 'value="published"' not in card(ListingStatus.PUBLISHED)
    assert ">Resume<" in card(ListingStatus.PAUSED)
    assert "<button" not in card(ListingStatus.ARCHIVED) and "/edit" not in card(ListingStatus.ARCHIVED)
    assert "/history" in card(ListingStatus.ARCHIVED)
    assert "¥120.00" in card(ListingStatus.DRAFT) and "badge-paused" in card(ListingStatus.PAUSED)


@pytest.mark.parametrize(("start", "target"), [
    (ListingStatus.DRAFT, "paused"),
    (ListingStatus.ARCHIVED, "published"),
    (ListingStatus.PUBLISHED, "published"),
])
def test_an_illegal_transition_is_a_409_with_its_reason(client, shop, db_session, start, target):
    provider, _member, _a, _b = shop
    listing = factories.listing(provider, status=start)
    response = post_status_raw(client, listing, target)  # the card offers no such button
    assert response.status_code == 409
    assert "A listing cannot go from" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Listing, listing.id).status == start
    assert listing_events(db_session, listing) == []


def test_an_unknown_status_is_refused(client, shop, db_session):
    provider, _member, _a, _b = shop
    listing = factories.listing(provider, status=ListingStatus.DRAFT)
    for bad in ("deleted", ""):
        response = post_status_raw(client, listing, bad)  # tampered
        assert response.status_code == 422
        assert "Unknown listing status" in response.get_data(as_text=True)
    assert db_session.get(Listing, listing.id).status == ListingStatus.DRAFT


def test_a_suspended_provider_cannot_publish_but_can_pause(client, shop, db_session):
    provider, _member, _a, _b = shop
    draft = factories.listing(provider, status=ListingStatus.DRAFT)
    live = factories.listing(provider, status=ListingStatus.PUBLISHED)
    provider.status = ProviderStatus.SUSPENDED
    db_session.commit()
    response = post_status(client, draft, "published")
    assert response.status_code == 409 and "must be approved" in response.get_data(as_text=True)
    assert post_status(client, live, "paused").status_code == 302
    db_session.expire_all()
    assert db_session.get(Listing, draft.id).status == ListingStatus.DRAFT
    assert db_session.get(Listing, live.id).status == ListingStatus.PAUSED


def test_status_change_needs_the_csrf_token(client, shop, csrf_enabled, db_session):
    provider, _member, _a, _b = shop
    listing = factories.listing(provider, status=ListingStatus.DRAFT)
    assert post_status_raw(client, listing, "published").status_code == 400  # deliberately without the token
    assert db_session.get(Listing, listing.id).status == ListingStatus.DRAFT
    response = post_status(client, listing, "published")  # the page's form carries its token
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Listing, listing.id).status == ListingStatus.PUBLISHED


# --- access ------------------------------------------------------------------------------


def test_another_providers_listing_is_a_404_everywhere_and_nothing_changes(client, shop, db_session):
    _provider, _member, a, _b = shop
    theirs = factories.listing(factories.provider(), status=ListingStatus.PUBLISHED, title="别人的服务")
    before = (theirs.title, theirs.status, theirs.version, theirs.price_fen)
    assert client.get(f"/provider/listings/{theirs.id}/edit").status_code == 404
    # Access rules: no page shows this provider these forms, so the posts are hand-made.
    assert client.post(f"/provider/listings/{theirs.id}/edit", data=form_data(a, version="1")).status_code == 404
    assert post_status_raw(client, theirs, "paused").status_code == 404
    assert post_status_raw(client, theirs, "archived").status_code == 404
    assert client.get(f"/provider/listings/{theirs.id}/history").status_code == 404
    assert client.get("/provider/listings/999999/edit").status_code == 404
    db_session.expire_all()
    theirs = db_session.get(Listing, theirs.id)
    assert (theirs.title, theirs.status, theirs.version, theirs.price_fen) == before
    assert listing_events(db_session, theirs) == []
    assert "别人的服务" not in client.get("/provider/listings").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.OFFICIAL, Role.ADMIN])
def test_residents_and_officials_may_not_manage_listings(client, auth, en, role):
    listing = factories.listing(status=ListingStatus.DRAFT)
    auth.login(factories.user(role))
    assert client.get("/provider/listings").status_code == 403
    assert client.get("/provider/listings/new").status_code == 403
    assert client.post("/provider/listings/new", data={}).status_code == 403  # access rules: hand-made posts
    assert client.get(f"/provider/listings/{listing.id}/history").status_code == 403
    assert post_status_raw(client, listing, "published").status_code == 403


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/provider/listings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert post_status_raw(client, factories.listing(), "published").status_code == 302  # access rule


def test_windows_are_replaced_not_added_on_edit(client, shop, db_session):
    _provider, _member, a, _b = shop
    listing = create(client, a)
    response = save_edit(client, listing, a, **{"mon-available": None, "fri-available": "y", "fri-start": "08:00",
                                                "fri-end": "12:00", "fri-capacity": "1"})
    assert response.status_code == 302
    windows = db_session.scalars(sa.select(AvailabilityWindow).where(AvailabilityWindow.listing_id == listing.id)).all()
    assert [(w.weekday, w.start_minute) for w in windows] == [(4, 480)]
