"""A listing's payment policy: when residents pay, and the late-cancellation fee.

Provider staff set it for their own listings (page and API); officials may read
any.  A listing without a row uses the defaults (:func:`policy_for`).
A change applies to bookings requested afterwards only: when a resident-paid
booking is requested, :func:`fix_for_booking` copies the listing's policy onto it
(``booking_fee_policy``, in the booking's transaction), and everything that reads
the policy of a booking — when it is paid (billing/payments.py), the fee kept when
it closes (billing/refunds.py), its page — reads that copy through
:func:`policy_of_booking`, never the listing's current policy.  The booking page
shows the listing's policy before the resident books.  Each change is audited in
the same transaction.  Services flush, never commit.
"""

from __future__ import annotations


from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.errors import Conflict, Invalid, NotFound
from app.models import Role, User
from billing.payment_models import BookingFeePolicy, PayAt, PaymentPolicy
from providers import listings, registration
from providers.bookings.models import Booking
from providers.models import Listing, ListingStatus

PAY_AT_LABELS = {
    PayAt.BOOKING: _l("When the resident books"),
    PayAt.ACCEPTANCE: _l("When the provider accepts the booking"),
}


def policy_for(session: Session, listing_id: int) -> PaymentPolicy:
    """The listing's policy, or the defaults (pay at acceptance, 20 % late-cancellation fee)."""
    found = session.get(PaymentPolicy, listing_id)
    return found or PaymentPolicy(listing_id=listing_id, pay_at=PayAt.ACCEPTANCE, late_cancel_fee_percent=20)


def fix_for_booking(session: Session, booking: Booking) -> BookingFeePolicy:
    """Copy the listing's policy onto a booking just requested (flushes); the existing copy
    if it has one."""
    fixed = session.get(BookingFeePolicy, booking.id)
    if fixed is None:
        policy = policy_for(session, booking.listing_id)
        fixed = BookingFeePolicy(booking_id=booking.id, pay_at=PayAt(policy.pay_at),
                                 late_cancel_fee_percent=policy.late_cancel_fee_percent)
        session.add(fixed)
        session.flush()
    return fixed


def policy_of_booking(session: Session, booking: Booking) -> BookingFeePolicy:
    """The policy fixed when the booking was made.  A resident-paid booking always has one
    (written when it is requested; older ones by migration 0013): a missing copy is a
    LookupError, never a silent fall-back to the listing's current policy."""
    fixed = session.get(BookingFeePolicy, booking.id)
    if fixed is None:
        raise LookupError(f"booking {booking.id} has no fee policy fixed when it was made")
    return fixed


def snapshot(policy: PaymentPolicy | BookingFeePolicy) -> dict:
    return {"pay_at": PayAt(policy.pay_at).value, "late_cancel_fee_percent": policy.late_cancel_fee_percent}


def listing_for_staff(session: Session, user: User, listing_id: int, *, for_update: bool = False) -> Listing:
    """The caller's own listing (403 for non-staff, 404 for another provider's listing)."""
    provider = registration.provider_of(session, user)
    return listings.own_listing(session, provider, listing_id, for_update=for_update)


def listing_for_reader(session: Session, user: User, listing_id: int) -> Listing:
    """Officials read any listing's policy; provider staff only their own (404 otherwise)."""
    if user.role in (Role.OFFICIAL, Role.ADMIN):
        listing = session.get(Listing, listing_id)
        if listing is None:
            raise NotFound(_l("No such listing."))
        return listing
    return listing_for_staff(session, user, listing_id)


def parse_pay_at(value) -> PayAt:
    try:
        return PayAt(str(value))
    except ValueError:
        raise Invalid(_l("Choose when residents pay: when they book or when you accept."),
                      field="pay_at") from None


def parse_fee_percent(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise Invalid(_l("The late-cancellation fee must be a whole percentage from 0 to 100."),
                      field="late_cancel_fee_percent")
    return value


def set_policy(session: Session, listing: Listing, *, pay_at, late_cancel_fee_percent, actor: User) -> PaymentPolicy:
    """Set the listing's policy; Invalid (422) for bad input, Conflict (409) for an archived
    listing, nothing changed either way.  Audited when something changed."""
    new_pay_at = parse_pay_at(pay_at)
    fee = parse_fee_percent(late_cancel_fee_percent)
    if listing.status == ListingStatus.ARCHIVED:
        raise Conflict(_l("An archived listing cannot be changed."))
    before = snapshot(policy_for(session, listing.id))
    policy = session.get(PaymentPolicy, listing.id)
    if policy is None:
        policy = PaymentPolicy(listing_id=listing.id)
        session.add(policy)
    policy.pay_at = new_pay_at
    policy.late_cancel_fee_percent = fee
    session.flush()
    after = snapshot(policy)
    if after != before:
        audit.record(session, actor=actor, action="listing.payment_policy_changed", object_type="listing",
                     object_id=listing.id, before=before, after=after)
    return policy


def policy_view(session: Session, listing_id: int) -> dict:
    """The effective policy as a plain dict (for the page and the API), with ``is_default``."""
    policy = policy_for(session, listing_id)
    return {"listing_id": listing_id, **snapshot(policy),
            "is_default": session.get(PaymentPolicy, listing_id) is None}
