"""A provider's own listings: the list, new and edit (each save a new version),
publish / pause / resume / archive, and the version history.

Only provider staff reach these pages (403 for anyone else); a listing of
another provider is a 404 (``listings.own_listing``).  The rules — active
provider, ranges, categories and communities — are the service's.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.access import provider_staff_required, public
from app.auth.forms import EmptyForm
from app.errors import LinliError
from app.extensions import db
from app.uow import apply_form_error, form_action
from providers import catalogue, listing_photos, listings, registration, uploads
from providers.listing_forms import WEEKDAY_NAMES, ListingForm, StatusForm, format_minutes
from providers.models import (
    LISTING_STATUS_LABELS,
    MAX_DURATION_MINUTES,
    MAX_RESPONSE_HOURS,
    MIN_DURATION_MINUTES,
    PRICING_UNIT_LABELS,
    Listing,
    ListingStatus,
    Provider,
)
from providers.views import bp

# Service field names that the form shows under another name.
FIELD_ALIASES = {"price_fen": "price"}


@bp.app_template_filter("hhmm")
def hhmm(minutes: int) -> str:
    """Minutes from midnight as HH:MM, for availability tables."""
    return format_minutes(minutes)


def _actor():
    return current_user._get_current_object()


def _my_provider() -> Provider:
    """The current staff member's provider (Forbidden, 403, if none)."""
    return registration.provider_of(db.session, current_user)


def _problem(check) -> str | None:
    """The message of the Conflict ``check()`` raises, or None if it passes."""
    try:
        check()
    except LinliError as error:
        return str(error)
    return None


def _listing_form(provider: Provider) -> ListingForm:
    form = ListingForm()
    form.category_id.choices = [(0, _("Choose…"))] + [(c.id, c.name) for c in provider.categories]
    form.community_ids.choices = [(c.id, c.name) for c in provider.communities]
    return form


def _show_error(form: ListingForm, error: LinliError) -> None:
    """A service error on its field (the availability as a whole has its own list)."""
    for one in getattr(error, "errors", None) or [error]:
        if one.field == "availability":
            form.availability_errors.append(str(one))
        else:
            apply_form_error(form, one, FIELD_ALIASES)


def _all_problems(form: ListingForm, provider: Provider, *, photo_count: int = 0) -> None:
    """The form refused some fields: check the others too, so every problem shows at once."""
    try:
        listings.check_input(db.session, provider, form.to_input(), skip=form.refused(), photo_count=photo_count)
    except LinliError as error:
        _show_error(form, error)


STATUS_ACTION_LABELS = {
    ListingStatus.PUBLISHED: _l("Publish"),
    ListingStatus.PAUSED: _l("Pause"),
    ListingStatus.ARCHIVED: _l("Archive"),
}


def status_actions(listing: Listing) -> list[tuple[str, str, bool]]:
    """(target status, button label, is dangerous) for each allowed transition."""
    actions = []
    for target in listings.allowed_statuses(listing):
        label = STATUS_ACTION_LABELS[target]
        if target == ListingStatus.PUBLISHED and listing.status == ListingStatus.PAUSED:
            label = _l("Resume")
        actions.append((target.value, str(label), target == ListingStatus.ARCHIVED))
    return actions


def _render_list(provider: Provider, status: int = 200):
    return render_template(
        "providers/my_listings.html",
        provider=provider,
        listings=listings.listings_of(db.session, provider),
        blocked=_problem(lambda: listings.require_active(provider)),
        status_actions=status_actions,
    ), status


@bp.route("/provider/listings")
@provider_staff_required
def my_listings():
    """The provider's listings with their status and the actions allowed. 403 if not staff."""
    return _render_list(_my_provider())


def _render_form(form, provider, *, listing=None, blocked=None, status=200):
    return render_template(
        "providers/listing_form.html",
        form=form,
        provider=provider,
        listing=listing,
        blocked=blocked,
        photos=listing_photos.photos_of(db.session, listing.id) if listing is not None else [],
        remove_form=EmptyForm(formdata=None),
        limits={"min_duration": MIN_DURATION_MINUTES, "max_duration": MAX_DURATION_MINUTES,
                "max_response": MAX_RESPONSE_HOURS, "max_photos": listing_photos.MAX_PHOTOS,
                "photo_size": uploads.readable_size(listing_photos.max_bytes()),
                "request_size": uploads.readable_size(current_app.config["MAX_CONTENT_LENGTH"])},
    ), status


@bp.route("/provider/listings/new", methods=["GET", "POST"])
@provider_staff_required
def new_listing():
    """Create a listing (a draft, version 1).

    409 with the reason if the provider is not active; 422 with the message on
    the field at fault for bad input; on success redirect to the list.
    """
    provider = _my_provider()
    form = _listing_form(provider)
    blocked = _problem(lambda: listings.require_active(provider))
    if not form.is_submitted():
        form.prefill_new([c.id for c in provider.communities])
        return _render_form(form, provider, blocked=blocked)
    if blocked:
        return _render_form(form, provider, blocked=blocked, status=409)
    if not form.validate():
        _all_problems(form, provider)
        return _render_form(form, provider, status=422)
    with form_action(form, lambda status: _render_form(form, provider, status=status),
                     show=lambda error: _show_error(form, error)):
        listing = listings.create_listing(db.session, provider, form.to_input(), actor=_actor())
    flash(_("“%(title)s” is saved as a draft. Publish it when you are ready.", title=listing.title), "success")
    return redirect(url_for("providers.my_listings"))


@bp.route("/provider/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@provider_staff_required
def edit_listing(listing_id: int):
    """Edit a listing; every save is a new version.

    404 for another provider's listing; 409 if the provider is not active, the
    listing is archived or someone saved meanwhile; 422 for bad input.
    """
    provider = _my_provider()
    listing = listings.own_listing(db.session, provider, listing_id, for_update=request.method == "POST")
    form = _listing_form(provider)
    blocked = _problem(lambda: listings.check_editable(listing))
    if not form.is_submitted():
        hidden = form.fill_from(listing)
        if hidden:
            flash(_("Some days have more than two windows; saving here keeps only the first two."), "error")
        return _render_form(form, provider, listing=listing, blocked=blocked)
    if blocked:
        return _render_form(form, provider, listing=listing, blocked=blocked, status=409)
    if not form.validate():
        _all_problems(form, provider, photo_count=listing_photos.count_of(db.session, listing))
        return _render_form(form, provider, listing=listing, status=422)

    def page(status: int):
        return _render_form(form, provider, listing=listings.own_listing(db.session, provider, listing_id),
                            status=status)

    with form_action(form, page, show=lambda error: _show_error(form, error)):
        listings.update_listing(
            db.session, listing, form.to_input(), actor=_actor(), expected_version=form.expected_version()
        )
    flash(_("Saved as version %(n)d of “%(title)s”.", n=listing.version, title=listing.title), "success")
    return redirect(url_for("providers.my_listings"))


@bp.route("/provider/listings/<int:listing_id>/status", methods=["POST"])
@provider_staff_required
def change_listing_status(listing_id: int):
    """Publish, pause, resume or archive (field ``status``).

    404 for another provider's listing; 409 for a move the state machine does
    not allow (or publishing while the provider is not active); 422 for an
    unknown status.  On success redirect to the list.
    """
    provider = _my_provider()
    listing = listings.own_listing(db.session, provider, listing_id, for_update=True)
    form = StatusForm()  # CSRFProtect has already checked the token (400 without it)
    with form_action(None, lambda status: _render_list(provider, status=status)):
        listings.change_status(db.session, listing, form.status.data or "", actor=_actor())
    flash(
        _("“%(title)s” is now %(status)s.", title=listing.title, status=listing.status_label),
        "success",
    )
    return redirect(url_for("providers.my_listings"))


def _changed_keys(newer: dict, older: dict | None) -> list[str]:
    if older is None:
        return []
    keys = ("title", "description", "category_id", "price_fen", "pricing_unit", "duration_minutes",
            "response_hours", "communities", "availability", "status")
    return [key for key in keys if newer.get(key) != older.get(key)]


CHANGE_LABELS = {
    "title": _l("title"),
    "description": _l("description"),
    "category_id": _l("category"),
    "price_fen": _l("price"),
    "pricing_unit": _l("pricing unit"),
    "duration_minutes": _l("duration"),
    "response_hours": _l("response time"),
    "checklist": _l("checklist"),
    "communities": _l("communities"),
    "availability": _l("availability"),
    "status": _l("status"),
}


@bp.route("/provider/listings/<int:listing_id>/history")
@provider_staff_required
def listing_history(listing_id: int):
    """Every saved version of a listing (newest first) and its status changes. 404 if not ours."""
    provider = _my_provider()
    listing = listings.own_listing(db.session, provider, listing_id)
    history = listings.history_of(db.session, listing)
    rows = []
    for index, (version, author) in enumerate(history):
        older = history[index + 1][0].snapshot if index + 1 < len(history) else None
        changed = [str(CHANGE_LABELS[key]) for key in _changed_keys(version.snapshot, older)]
        rows.append({"version": version, "author": author, "snap": version.snapshot, "changed": changed})
    return render_template(
        "providers/listing_history.html",
        listing=listing,
        rows=rows,
        status_changes=listings.status_changes_of(db.session, listing),
        category_names={c.id: c.name for c in catalogue.categories(db.session)},
        community_names={c.id: c.name for c in catalogue.communities(db.session)},
        status_labels={s.value: str(label) for s, label in LISTING_STATUS_LABELS.items()},
        unit_labels={u.value: str(label) for u, label in PRICING_UNIT_LABELS.items()},
        weekday_names=WEEKDAY_NAMES,
    )


@bp.route("/provider/listings/<int:listing_id>/photos/<int:photo_id>/remove", methods=["POST"])
@provider_staff_required
def remove_listing_photo(listing_id: int, photo_id: int):
    """Remove one photo of the listing and go back to its edit page; 404 for another
    provider's listing or photo, 409 (nothing changed) while the listing cannot be edited."""
    provider = _my_provider()
    listing = listings.own_listing(db.session, provider, listing_id, for_update=True)

    def page(status: int):
        form = _listing_form(provider)
        form.fill_from(listing)
        return _render_form(form, provider, listing=listing, status=status)

    with form_action(None, page):
        listings.check_editable(listing)
        listing_photos.remove(db.session, listing, photo_id, actor=_actor())
    flash(_("The photo is removed."), "success")
    return redirect(url_for("providers.edit_listing", listing_id=listing.id) + "#photos")


@bp.route("/listing-photos/<int:photo_id>/<any(full, thumb):size>")
@public
def listing_photo(photo_id: int, size: str):
    """A listing photo (``full``: at most 1600 px; ``thumb``: 480 px) for whoever may see
    the listing: anyone while it is published, its provider's staff and officials always;
    404 otherwise (and when the file is missing)."""
    photo = listing_photos.visible_photo(db.session, photo_id, current_user)
    path = uploads.document_path(photo.stored_name if size == "full" else photo.thumb_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=photo.content_type, max_age=0)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
