"""Rating pages: a resident rates a completed booking, the provider replies, officials
hide and show ratings.  Complaint pages are in :mod:`ratings.complaint_views`.

Stable addresses (other pages link to them):

- ``GET/POST /bookings/<id>/rate`` — the resident's "Rate this service" form;
- ``GET /provider/ratings`` and ``POST /provider/ratings/<id>/reply``;
- ``GET /official/ratings`` (``?shown=all|hidden|visible``) and
  ``POST /official/ratings/<id>/hide`` / ``.../unhide``.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import official_required, provider_staff_required, resident_required
from app.errors import LinliError
from app.extensions import db
from app.uow import form_action
from providers.bookings.services import resident_booking
from providers.registration import provider_of
from ratings import services
from ratings.forms import RatingForm, ReasonForm, ReplyForm
from ratings.models import RatingTagCode

bp = Blueprint("ratings", __name__, template_folder="templates")


@bp.app_template_global()
def published_ratings_of(listing_id: int | None = None, provider_id: int | None = None):
    """For the public listing and provider pages: the 20 newest published ratings,
    with the count and Bayesian mean of all of them (one query)."""
    return services.published_ratings(db.session, listing_id=listing_id, provider_id=provider_id)


@bp.app_template_global()
def rating_tag_counts_of(listing_id: int | None = None, provider_id: int | None = None):
    """For the public listing and provider pages: how often each quick tag was chosen in the
    published ratings (one query; call it only when there are ratings)."""
    return services.tag_counts(db.session, listing_id=listing_id, provider_id=provider_id)


def booking_may_be_rated(booking) -> bool:
    """The fact "ratings.may_rate" (app/registry.py) the booking pages ask before offering
    to rate: the rate page's own rule (:func:`ratings.services.may_rate`)."""
    return services.may_rate(db.session, booking)


def page_number() -> int:
    try:
        return min(max(int(request.args.get("page", 1)), 1), 10_000)
    except ValueError:
        return 1


# --- residents ---------------------------------------------------------------------


def render_rate(booking, form, *, status: int = 200):
    """The rate page of the resident's booking: the form, their rating, or why not."""
    rating = services.rating_of_booking(db.session, booking.id)
    refusal = None
    if rating is None:
        try:
            services.check_can_rate(db.session, booking)
        except LinliError as error:
            refusal = str(error)
    return render_template(
        "ratings/rate.html", booking=booking, form=form, rating=rating, refusal=refusal,
        deadline=services.rating_deadline(booking), score_fields=services.SCORE_FIELDS,
        score_labels=services.SCORE_LABELS, detail_fields=services.DETAIL_FIELDS, tag_codes=list(RatingTagCode),
    ), status


@bp.route("/bookings/<int:booking_id>/rate", methods=["GET", "POST"])
@resident_required
def rate(booking_id: int):
    """The resident's rating form for their completed booking (200); on POST the
    rating is saved and the resident is redirected here (it then shows the rating).
    Refused: 404 someone else's booking, 409 not completed / too late / already
    rated, 422 a bad score or comment — nothing is written."""
    booking = resident_booking(db.session, current_user, booking_id)
    form = RatingForm()
    if request.method == "GET":
        return render_rate(booking, form)
    if not form.validate_on_submit():
        return render_rate(booking, form, status=422)
    with form_action(form, lambda status: render_rate(resident_booking(db.session, current_user, booking_id),
                                                      form, status=status)):
        services.rate_booking(
            db.session, current_user, booking_id,
            overall=form.overall.data, timeliness=form.timeliness.data,
            quality=form.quality.data, attitude=form.attitude.data, tags=form.tags.data or [],
            comment=form.comment.data,
        )
    flash(_("Thank you: your rating is published."), "success")
    return redirect(url_for("ratings.rate", booking_id=booking_id))


# --- providers ---------------------------------------------------------------------


def render_provider_ratings(*, failed: tuple[int, ReplyForm] | None = None, status: int = 200):
    provider = provider_of(db.session, current_user)
    page = services.ratings_of_provider(db.session, provider.id, page=page_number())
    mean, count = services.provider_summary(db.session, provider.id)
    tag_counts = services.tag_counts(db.session, provider_id=provider.id) if count else []
    forms = {
        rating.id: failed[1] if failed and failed[0] == rating.id else ReplyForm(formdata=None)
        for rating in page.items if rating.reply is None
    }
    for rating_id, form in forms.items():  # the id its box has on the page (the error summary links to it)
        form.reply.id = f"reply-{rating_id}"
    return render_template(
        "ratings/provider_ratings.html", provider=provider, page=page, forms=forms, mean=mean,
        count=count, tag_counts=tag_counts, score_fields=services.SCORE_FIELDS, score_labels=services.SCORE_LABELS,
    ), status


@bp.route("/provider/ratings")
@provider_staff_required
def provider_ratings():
    """The provider's ratings, newest first (hidden ones marked), with a reply form
    under each unanswered one (200; 403 for staff without an organisation)."""
    return render_provider_ratings()


@bp.route("/provider/ratings/<int:rating_id>/reply", methods=["POST"])
@provider_staff_required
def reply(rating_id: int):
    """Reply once and redirect to the ratings page; 404 another provider's rating,
    409 already replied, 422 empty or too long (the page again, nothing saved)."""
    form = ReplyForm()
    with form_action(form, lambda status: render_provider_ratings(failed=(rating_id, form), status=status),
                     reraise=(404,)):
        services.reply_to_rating(db.session, current_user, rating_id, form.reply.data)
    flash(_("Your reply is published."), "success")
    return redirect(url_for("ratings.provider_ratings"))


# --- officials ---------------------------------------------------------------------


def _shown() -> str:
    shown = request.args.get("shown", "all")
    if shown not in services.OFFICIAL_FILTERS:
        abort(404)
    return shown


def render_official_ratings(shown: str, *, failed: tuple[int, ReasonForm] | None = None, status: int = 200):
    page = services.ratings_for_officials(db.session, shown, page=page_number())
    forms = {
        rating.id: failed[1] if failed and failed[0] == rating.id else ReasonForm(formdata=None)
        for rating in page.items
    }
    for rating_id, form in forms.items():  # the id its box has on the page (the error summary links to it)
        form.reason.id = f"reason-{rating_id}"
    return render_template(
        "ratings/official_ratings.html", page=page, shown=shown, forms=forms,
        filters=services.OFFICIAL_FILTERS, score_fields=services.SCORE_FIELDS,
        score_labels=services.SCORE_LABELS,
    ), status


@bp.route("/official/ratings")
@official_required
def official_ratings():
    """Every rating, newest first, hidden ones marked with their reason; filter with
    ``?shown=hidden|visible`` (404 for another value); hide/unhide forms (200)."""
    return render_official_ratings(_shown())


def _change_visibility(rating_id: int, action) -> None:
    """Apply ``action`` (hide or unhide) and commit; a refusal answers the list page with the error."""
    form = ReasonForm()
    shown = request.form.get("shown", "all")
    shown = shown if shown in services.OFFICIAL_FILTERS else "all"
    with form_action(form, lambda status: render_official_ratings(shown, failed=(rating_id, form), status=status),
                     reraise=(404,)):
        action(db.session, current_user, rating_id, form.reason.data)


def _shown_after_post() -> str | None:
    shown = request.form.get("shown")
    return shown if shown in services.OFFICIAL_FILTERS and shown != "all" else None


@bp.route("/official/ratings/<int:rating_id>/hide", methods=["POST"])
@official_required
def hide(rating_id: int):
    """Hide a rating with a reason (audited) and redirect to the list; 422 no reason,
    409 already hidden, 404 no such rating."""
    _change_visibility(rating_id, services.hide_rating)
    flash(_("The rating is hidden from the public."), "success")
    return redirect(url_for("ratings.official_ratings", shown=_shown_after_post()))


@bp.route("/official/ratings/<int:rating_id>/unhide", methods=["POST"])
@official_required
def unhide(rating_id: int):
    """Publish a hidden rating again with a reason (audited); 422 no reason, 409 not hidden."""
    _change_visibility(rating_id, services.unhide_rating)
    flash(_("The rating is public again."), "success")
    return redirect(url_for("ratings.official_ratings", shown=_shown_after_post()))
