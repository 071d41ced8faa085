"""A listing's photos: checked by content, resized with a thumbnail, EXIF applied and
stripped, stored only with their committed row; shown on the listing page and the
catalogue card; removable.  And the listing form shows every problem at once."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from PIL import Image
from werkzeug.datastructures import FileStorage

from app import storage
from app.extensions import db
from providers import listing_photos
from providers.listing_photos import ListingPhoto
from providers.models import Listing, ListingStatus
from tests import factories
from tests.forms import open_page
from tests.test_listings import fields

pytestmark = pytest.mark.usefixtures("english_messages")

ORIENTATION, MAKE = 0x0112, 0x010F


def jpeg(size=(2000, 1000), *, orientation: int | None = None, colour=(200, 30, 30)) -> bytes:
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[MAKE] = "FakePhone"
    if orientation:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 90, 200, 128)).save(out, format="PNG")
    return out.getvalue()


def stored_files() -> set[str]:
    folder = storage.folder()
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def photos_of(listing_id: int) -> list[ListingPhoto]:
    db.session.expire_all()
    return listing_photos.photos_of(db.session, listing_id)


@pytest.fixture
def shop(auth):
    place = factories.community(name="城里社区")
    provider = factories.provider(communities=[place], categories=["housekeeping"])
    member = factories.staff(provider)
    auth.login(member)
    return provider, member, place


def new_with(client, place, photos, **changes):
    page = open_page(client, "/provider/listings/new")
    return page.submit(fields={**fields(place, **changes), "photos": photos})


def the_listing(provider) -> Listing:
    db.session.expire_all()
    return db.session.scalar(sa.select(Listing).where(Listing.provider_id == provider.id))


def test_a_jpeg_is_turned_upright_resized_stripped_and_gets_a_thumbnail(client, shop):
    provider, _member, place = shop
    before = stored_files()
    # 2000×1000 as stored, orientation 6 (rotate 90°): upright it is 1000×2000.
    response = new_with(client, place, [(jpeg(orientation=6), "IMG_0001.JPG"), (png(), "plan.png")])
    assert response.status_code == 302
    listing = the_listing(provider)
    first, second = photos_of(listing.id)
    assert (first.content_type, first.width, first.height) == ("image/jpeg", 800, 1600)
    assert (first.thumb_width, first.thumb_height) == (240, 480)
    assert (second.content_type, second.width, second.height, second.thumb_width) == ("image/png", 300, 200, 300)
    full = Image.open(storage.folder() / first.stored_name)
    thumb = Image.open(storage.folder() / first.thumb_name)
    assert full.size == (800, 1600) and thumb.size == (240, 480)
    assert not full.getexif() and "exif" not in full.info and not thumb.getexif()
    assert stored_files() - before == {first.stored_name, first.thumb_name, second.stored_name, second.thumb_name}
    assert first.size_bytes == (storage.folder() / first.stored_name).stat().st_size


@pytest.mark.parametrize(("upload", "words"), [
    ((b"just some text, not a photo\n" * 20, "holiday.jpg"), "“holiday.jpg” is not a photo: only JPEG, PNG or WebP"),
    ((b"%PDF-1.4 a document", "scan.png"), "“scan.png” is not a photo"),
    ((b"\xff\xd8\xff" + b"\0" * 64, "broken.jpg"), "“broken.jpg” is not a photo"),
])
def test_a_file_that_is_not_a_photo_is_refused_on_the_field_and_nothing_is_stored(client, shop, upload, words):
    provider, _member, place = shop
    before = stored_files()
    response = new_with(client, place, [upload])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = BeautifulSoup(html, "html.parser").find("input", attrs={"name": "photos"})
    assert field["aria-invalid"] == "true" and field["type"] == "file"
    assert words in html and 'id="photos-error"' in html
    assert the_listing(provider) is None and stored_files() == before


def test_a_photo_over_the_size_limit_is_refused_and_nothing_is_stored(app, client, shop):
    provider, _member, place = shop
    before = stored_files()
    app.config["LISTING_PHOTO_MAX_BYTES"] = 50_000
    try:
        noisy = Image.effect_noise((900, 900), 100).convert("RGB")
        out = io.BytesIO()
        noisy.save(out, format="JPEG", quality=95)
        big = out.getvalue()
        assert len(big) > 50_000
        response = new_with(client, place, [(jpeg((100, 100)), "ok.jpg"), (big, "huge.jpg")])
    finally:
        app.config.pop("LISTING_PHOTO_MAX_BYTES")
    assert response.status_code == 422
    assert "“huge.jpg” is too large: a photo is at most 48 KB." in response.get_data(as_text=True)
    assert the_listing(provider) is None and stored_files() == before  # not even the good one


def test_the_default_limit_is_8_mb_each(app):
    with app.app_context():
        assert listing_photos.max_bytes() == 8 * 1024 * 1024


def test_at_most_six_photos_per_listing(client, shop):
    provider, _member, place = shop
    assert new_with(client, place, [(jpeg((64, 48)), f"{n}.jpg") for n in range(4)]).status_code == 302
    listing = the_listing(provider)
    page = open_page(client, f"/provider/listings/{listing.id}/edit")
    response = page.submit(action=f"/provider/listings/{listing.id}/edit",
                           fields={**fields(place), "photos": [(jpeg((64, 48)), f"{n}.jpg") for n in range(3)]})
    assert response.status_code == 422
    assert "A listing has at most 6 photos: it has 4, so add at most 2 more." in response.get_data(as_text=True)
    assert len(photos_of(listing.id)) == 4


def test_the_listing_page_and_the_catalogue_card_show_the_photos_with_the_title_as_alt(client, shop, auth):
    provider, member, place = shop
    assert new_with(client, place, [(jpeg((640, 480)), "a.jpg"), (jpeg((480, 640)), "b.jpg")]).status_code == 302
    listing = the_listing(provider)
    listing.status = ListingStatus.PUBLISHED
    db.session.commit()
    first, second = photos_of(listing.id)
    auth.logout()
    page = BeautifulSoup(client.get(f"/listings/{listing.id}").get_data(as_text=True), "html.parser")
    images = page.select("#listing-photos img")
    assert [img["src"] for img in images] == [f"/listing-photos/{first.id}/full", f"/listing-photos/{second.id}/full"]
    assert images[0]["alt"] == listing.title
    card = BeautifulSoup(client.get("/catalogue", query_string={"community": place.id}).get_data(as_text=True),
                         "html.parser").select_one("img.card-thumb")
    assert card["src"] == f"/listing-photos/{first.id}/thumb" and card["alt"] == listing.title
    served = client.get(card["src"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(served.data)).size == (480, 360)


def test_a_draft_listings_photo_is_only_for_its_provider_and_officials(client, shop, auth):
    provider, member, place = shop
    assert new_with(client, place, [(jpeg((64, 48)), "a.jpg")]).status_code == 302
    photo, = photos_of(the_listing(provider).id)
    url = f"/listing-photos/{photo.id}/thumb"
    assert client.get(url).status_code == 200
    auth.logout()
    assert client.get(url).status_code == 404
    auth.login(factories.staff(factories.provider()))
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(factories.official())
    assert client.get(url).status_code == 200


def test_a_photo_can_be_removed_and_its_files_go(client, shop):
    provider, _member, place = shop
    assert new_with(client, place, [(jpeg((64, 48)), "a.jpg"), (jpeg((64, 48)), "b.jpg")]).status_code == 302
    listing = the_listing(provider)
    first, second = photos_of(listing.id)
    page = open_page(client, f"/provider/listings/{listing.id}/edit")
    response = page.form(action=f"/provider/listings/{listing.id}/photos/{first.id}/remove").submit()
    assert response.status_code == 302 and response.headers["Location"].endswith("#photos")
    assert [p.id for p in photos_of(listing.id)] == [second.id]
    names = stored_files()
    assert first.stored_name not in names and first.thumb_name not in names and second.stored_name in names


def test_another_providers_photo_cannot_be_removed(client, shop, auth):
    provider, _member, place = shop
    assert new_with(client, place, [(jpeg((64, 48)), "a.jpg")]).status_code == 302
    listing = the_listing(provider)
    photo, = photos_of(listing.id)
    page = open_page(client, f"/provider/listings/{listing.id}/edit")
    form = page.form(action=f"/provider/listings/{listing.id}/photos/{photo.id}/remove")
    auth.logout()
    auth.login(factories.staff(factories.provider(communities=[place])))
    assert form.submit().status_code == 404
    assert len(photos_of(listing.id)) == 1


# --- every problem at once -----------------------------------------------------------------


def test_the_listing_form_shows_title_price_category_and_photo_problems_together(client, shop):
    provider, _member, place = shop
    page = open_page(client, "/provider/listings/new")
    # The category select offers "Choose…" (no category): the staff member leaves it there.
    response = page.submit(fields={**fields(place, title="  ", price="abc", category_id="0"),
                                   "photos": [(b"not an image", "x.jpg")]})
    assert response.status_code == 422
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    summary = soup.select_one("[data-error-summary]")
    assert summary is not None and "There are 4 problems" in summary.get_text()
    links = [a["href"] for a in summary.select("a")]
    assert links == ["#category_id", "#title", "#price", "#photos"]
    for name in ("category_id", "title", "price", "photos"):
        assert soup.find(id=f"{name}-error") is not None, name
        assert soup.find(attrs={"name": name})["aria-invalid"] == "true"
    assert the_listing(provider) is None


def test_a_day_refused_by_the_form_does_not_also_say_there_is_no_window(client, shop):
    provider, _member, place = shop
    page = open_page(client, "/provider/listings/new")
    response = page.submit(fields=fields(place, title="", **{"mon-capacity": "two"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="mon-capacity-error"' in html and 'id="title-error"' in html
    assert "Add at least one weekly time window" not in html
    assert "There are 2 problems" in html and 'href="#mon-capacity"' in html


def test_a_new_photo_moves_the_cached_catalogue_on(app, client, shop, auth):
    from tests.test_catalogue_cache import SearchCache, Ticks

    provider, _member, place = shop
    listing = factories.listing(provider, communities=[place], title="上门保洁丙")
    app.config["CATALOGUE_CACHE_SECONDS"] = 30
    app.extensions["linli.catalogue_cache"] = SearchCache(30, 512, clock=Ticks(), check_seconds=1.0)
    try:
        def card_thumbs():
            html = client.get("/catalogue", query_string={"q": "保洁丙", "community": "all"}).get_data(as_text=True)
            return [img["src"] for img in BeautifulSoup(html, "html.parser").select("img.card-thumb")]

        assert card_thumbs() == []
        # Only a photo is added (the listing's own fields stay as they are).
        prepared = listing_photos.prepare_all([FileStorage(io.BytesIO(jpeg((64, 48))), filename="a.jpg")])
        photo, = listing_photos.store_all(db.session, listing, prepared, actor=_member)
        db.session.commit()
        assert card_thumbs() == [f"/listing-photos/{photo.id}/thumb"]  # this process committed: seen at once
    finally:
        app.config["CATALOGUE_CACHE_SECONDS"] = 0
        app.extensions.pop("linli.catalogue_cache", None)
