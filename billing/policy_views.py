"""A listing's payment policy: the provider's page and the JSON API.

Page: ``/provider/listings/<id>/payment-policy`` (provider staff, their own
listings; another provider's listing is a 404).  API:
``GET/PUT /api/v1/listings/<id>/payment-policy`` (staff of the listing's provider
read and change it; officials read it; anyone else 403, another provider's
listing 404).  The providers' listing page links here through the template
``billing/_listing_policy_link.html`` and the ``linli_payment_policy_for`` global,
so providers import nothing from billing.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from marshmallow import Schema, fields
from wtforms import IntegerField, RadioField
from wtforms.validators import InputRequired, NumberRange

from app.access import OFFICIAL_ROLES, provider_staff_required
from app.api import AUTHENTICATED, problems, require_user, unit_of_work
from app.api import Blueprint as ApiBlueprint
from app.extensions import db
from app.models import Role
from app.uow import form_action
from billing import policies
from billing.payment_models import BookingFeePolicy, PayAt

bp = Blueprint("billing_policy", __name__, template_folder="templates")
api_blp = ApiBlueprint("payment_policy_api", __name__, url_prefix="/api/v1/listings",
                       description="A listing's payment policy: when residents pay, the late-cancellation fee")

FEE_MESSAGE = _l("The late-cancellation fee must be a whole percentage from 0 to 100.")
PAY_AT_MESSAGE = _l("Choose when residents pay: when they book or when you accept.")


class PaymentPolicyForm(FlaskForm):
    pay_at = RadioField(_l("When residents pay"),
                        choices=[(p.value, label) for p, label in policies.PAY_AT_LABELS.items()],
                        validators=[InputRequired(PAY_AT_MESSAGE)])
    late_cancel_fee_percent = IntegerField(
        _l("Late-cancellation fee (%)"),
        validators=[InputRequired(FEE_MESSAGE), NumberRange(min=0, max=100, message=FEE_MESSAGE)])

    def use_specific_messages(self) -> None:
        """WTForms' generic "Not a valid choice / integer value." become ours."""
        if self.pay_at.errors:
            self.pay_at.errors = [str(PAY_AT_MESSAGE)]
        if self.late_cancel_fee_percent.errors:
            self.late_cancel_fee_percent.errors = [str(FEE_MESSAGE)]


def _render(form, listing, status: int = 200):
    return render_template("billing/payment_policy.html", form=form, listing=listing,
                           policy=policies.policy_view(db.session, listing.id)), status


@bp.route("/provider/listings/<int:listing_id>/payment-policy", methods=["GET", "POST"])
@provider_staff_required
def payment_policy(listing_id: int):
    """Show and change the listing's payment policy. 404 for another provider's listing;
    422 for bad input and 409 for an archived listing (nothing changed, the input kept)."""
    listing = policies.listing_for_staff(db.session, current_user, listing_id)
    form = PaymentPolicyForm()
    if not form.is_submitted():
        current = policies.policy_view(db.session, listing.id)
        form.pay_at.data = current["pay_at"]
        form.late_cancel_fee_percent.data = current["late_cancel_fee_percent"]
        return _render(form, listing)
    if not form.validate():
        form.use_specific_messages()
        return _render(form, listing, 422)
    with form_action(form, lambda status: _render(
            form, policies.listing_for_staff(db.session, current_user, listing_id), status)):
        listing = policies.listing_for_staff(db.session, current_user, listing_id, for_update=True)
        policies.set_policy(db.session, listing, pay_at=form.pay_at.data,
                            late_cancel_fee_percent=form.late_cancel_fee_percent.data,
                            actor=current_user._get_current_object())
    flash(_("The payment policy of “%(title)s” is saved. It applies to new bookings.", title=listing.title),
          "success")
    return redirect(url_for("providers.my_listings"))


def payment_policy_for(listing_id: int) -> dict:
    """For templates: the listing's effective policy (``pay_at``, ``late_cancel_fee_percent``)."""
    return policies.policy_view(db.session, listing_id)


def fee_policy_of(booking) -> BookingFeePolicy | None:
    """For templates: the policy fixed when the booking was made (None for a booking a
    purchase programme pays)."""
    return db.session.get(BookingFeePolicy, booking.id)


# --- JSON API -------------------------------------------------------------------------


class PaymentPolicySchema(Schema):
    listing_id = fields.Integer(dump_only=True)
    pay_at = fields.String(required=True, metadata={"enum": [p.value for p in PayAt],
                                                    "description": "booking: the resident pays when requesting; "
                                                    "acceptance: once the provider accepts"})
    late_cancel_fee_percent = fields.Integer(required=True, strict=True, metadata={
        "minimum": 0, "maximum": 100,
        "description": "Percentage of the payment the provider keeps when a resident cancels late "
                       "or does not turn up"})
    is_default = fields.Boolean(dump_only=True, metadata={"description": "true while the listing has no "
                                                                         "policy of its own (the defaults apply)"})


@api_blp.before_request
def _check_caller():
    """401/403 before the body is parsed, so no one learns about validation."""
    if request.method == "PUT":
        require_user(Role.PROVIDER_STAFF)
    else:
        require_user(Role.PROVIDER_STAFF, *OFFICIAL_ROLES)


@api_blp.route("/<int:listing_id>/payment-policy")
class ListingPaymentPolicy(MethodView):
    @api_blp.doc(security=AUTHENTICATED)
    @api_blp.response(200, PaymentPolicySchema)
    @problems(api_blp, 401, 403, 404)
    def get(self, listing_id: int):
        """The listing's payment policy (its provider's staff, or an official)."""
        user = require_user(Role.PROVIDER_STAFF, *OFFICIAL_ROLES)
        listing = policies.listing_for_reader(db.session, user, listing_id)
        return policies.policy_view(db.session, listing.id)

    @api_blp.doc(security=AUTHENTICATED)
    @api_blp.arguments(PaymentPolicySchema)
    @api_blp.response(200, PaymentPolicySchema)
    @problems(api_blp, 400, 401, 403, 404, 409, 422)
    def put(self, data, listing_id: int):
        """Set the policy of one of the caller's listings; applies to bookings made afterwards.

        422 with the field at fault (``pay_at`` not booking/acceptance, fee outside 0–100);
        404 for another provider's listing; 409 for an archived listing.
        """
        user = require_user(Role.PROVIDER_STAFF)
        with unit_of_work():
            listing = policies.listing_for_staff(db.session, user, listing_id, for_update=True)
            policies.set_policy(db.session, listing, pay_at=data["pay_at"],
                                late_cancel_fee_percent=data["late_cancel_fee_percent"], actor=user)
        return policies.policy_view(db.session, listing_id)
