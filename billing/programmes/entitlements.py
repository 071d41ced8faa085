"""Booking with an entitlement, and what each booking change does to it.

:func:`book_with_entitlement` finds the resident's enrolment and the award
covering the listing, then calls providers' ``request_booking`` with the
booking's funding (programme, this award), stored on the booking.  Billing
dispatches every change of a programme-funded booking here
(:func:`on_booking_changed`, registered as the programme funding's rules,
billing/programmes/funding.py), so no payment is ever created for it:

============  =====================================================================
requested     the :class:`EntitlementUse` is created: one visit of the month's
              allowance and one unit of the award's quota are taken (conditional
              UPDATEs under CHECK constraints: never exceeded)
accepted      the contract price is RESERVED: Dr ``programme_budget:<id>`` /
              Cr ``programme_reserved:<id>`` (the ledger's CHECK refuses an overdraft)
completed     nothing yet: the reservation stays until the visit is proven
              (completion is the provider's word only)
verified or   CONSUMED: Dr ``programme_reserved`` / Cr ``programme_consumed`` —
cleared       billing/programmes/visit_money.py, on ``visit_verified``; a visit
              verified before its booking completed is consumed on completion
closed        RELEASED (declined, expired, cancelled, no-show: ``RELEASES_MONEY``):
unserved      allowance and quota given back; a reservation goes back to the budget
              (reason ``unserved``).  visit_money.py releases a served visit too:
              not verified in time (``unverified``), found not served (``not_served``)
============  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.clock import local, now, today
from app.errors import Conflict, Forbidden, Invalid
from app.models import User
from billing import ledger
from billing.funding import RELEASES_MONEY
from billing.ledger import InsufficientFunds
from billing.programmes.models import (
    USE_MACHINE,
    AllowanceMonth,
    Enrolment,
    EnrolmentStatus,
    EntitlementUse,
    ProgrammeAward,
    ProgrammeStatus,
    PurchaseProgramme,
    ReleaseReason,
    UseStatus,
    programme_category,
    programme_listing,
)
from billing.programmes.programmes import budget_code, consumed_code, reserved_code
from providers.bookings.models import Booking, BookingFunding, BookingStatus
from providers.bookings.services import request_booking
from providers.catalogue import public_listing
from providers.models import Listing
from providers.visits.models import VisitRecord
from providers.visits.verification import settleable

S = BookingStatus
U = UseStatus


def month_of(starts_at: datetime) -> str:
    """The allowance month of a visit: its local (Asia/Shanghai) month, ``YYYY-MM``."""
    return local(starts_at).strftime("%Y-%m")


def covers(programme: PurchaseProgramme, listing: Listing) -> bool:
    return listing.id in {x.id for x in programme.listings} or listing.category_id in {
        c.id for c in programme.categories}


def award_for(programme: PurchaseProgramme, provider_id: int) -> ProgrammeAward | None:
    return next((a for a in programme.awards if a.provider_id == provider_id), None)


def active_enrolments(session: Session, resident: User) -> list[Enrolment]:
    return list(session.scalars(
        sa.select(Enrolment).join(PurchaseProgramme, PurchaseProgramme.id == Enrolment.programme_id)
        .where(Enrolment.resident_id == resident.id, Enrolment.status == EnrolmentStatus.ENROLLED,
               PurchaseProgramme.status == ProgrammeStatus.OPEN)
        .order_by(Enrolment.id)
    ))


def used_in_month(session: Session, enrolment_id: int, month: str) -> int:
    return session.scalar(sa.select(AllowanceMonth.used).where(AllowanceMonth.enrolment_id == enrolment_id,
                                                               AllowanceMonth.month == month)) or 0


def covered_listings(session: Session, enrolment: Enrolment) -> list[Listing]:
    """Published listings the programme covers, of awarded providers, offered in the resident's community."""
    programme = enrolment.programme
    provider_ids = [a.provider_id for a in programme.awards]
    in_scope = sa.or_(
        Listing.id.in_(sa.select(programme_listing.c.listing_id).where(programme_listing.c.programme_id == programme.id)),
        Listing.category_id.in_(sa.select(programme_category.c.category_id)
                                .where(programme_category.c.programme_id == programme.id)),
    )
    candidates = session.scalars(sa.select(Listing).where(Listing.provider_id.in_(provider_ids or [-1]), in_scope)
                                 .order_by(Listing.id))
    result = []
    for listing in candidates:
        try:
            public_listing(session, listing.id)
        except Exception:  # noqa: BLE001 — unpublished or provider inactive: not offered
            continue
        if enrolment.resident.community_id in {c.id for c in listing.communities}:
            result.append(listing)
    return result


@dataclass
class Entitlement:
    enrolment: Enrolment
    award: ProgrammeAward


def find_entitlement(session: Session, resident: User, listing: Listing, starts_at: datetime | None) -> Entitlement:
    """The enrolment and award that pay for this listing, or a specific refusal."""
    if not resident.is_resident:
        raise Forbidden(_l("Only residents book with an entitlement."))
    enrolments = active_enrolments(session, resident)
    if not enrolments:
        raise Invalid(_l("You are not enrolled in an open purchase programme."))
    for enrolment in enrolments:
        programme = enrolment.programme
        award = award_for(programme, listing.provider_id)
        if award is None or not covers(programme, listing):
            continue
        if starts_at is not None:
            day = local(starts_at).date()
            if not programme.start_date <= day <= programme.end_date:
                raise Invalid(_l("Your entitlement covers visits from %(start)s to %(end)s.",
                                 start=programme.start_date.isoformat(), end=programme.end_date.isoformat()),
                              field="starts_at")
        return Entitlement(enrolment, award)
    raise Invalid(_l("Your entitlement does not cover this service."))


def _allowance_exhausted(programme: PurchaseProgramme, month: str) -> Conflict:
    return Conflict(_l("Your allowance for %(month)s is used up: all %(n)d visits are booked or done. "
                       "Nothing was booked.", month=month, n=programme.allowance_per_month), field="starts_at")


def _budget_exhausted() -> Conflict:
    return Conflict(_l("The programme's budget is used up: it cannot pay for another visit. Nothing was booked."))


def check_room(session: Session, entitlement: Entitlement, month: str) -> None:
    """Say early (and specifically) when the allowance, quota or budget has no room left."""
    programme, award = entitlement.enrolment.programme, entitlement.award
    if used_in_month(session, entitlement.enrolment.id, month) >= programme.allowance_per_month:
        raise _allowance_exhausted(programme, month)
    if award.quota_used >= award.quota:
        raise Conflict(_l("%(name)s has served its whole quota for this programme. Nothing was booked.",
                          name=award.provider.name))
    if ledger.balance(session, budget_code(programme.id)) * -1 < award.contract_price_fen:
        raise _budget_exhausted()


def book_with_entitlement(session: Session, resident: User, *, listing_id: int, starts_at: datetime,
                          address: str, note: str = "") -> Booking:
    """Request a booking paid by the resident's programme (no payment).  Raises Invalid /
    Conflict with a specific message (allowance used up, budget used up, not covered)."""
    listing = public_listing(session, listing_id)
    entitlement = find_entitlement(session, resident, listing, starts_at)
    check_room(session, entitlement, month_of(starts_at))
    return request_booking(session, resident, listing_id=listing_id, starts_at=starts_at, address=address,
                           note=note, funding=BookingFunding.programme(entitlement.award.id))


def use_of(session: Session, booking_id: int) -> EntitlementUse | None:
    return session.scalar(sa.select(EntitlementUse).where(EntitlementUse.booking_id == booking_id))


def _take_allowance(session: Session, enrolment: Enrolment, month: str) -> None:
    programme = enrolment.programme
    exists = session.scalar(sa.select(sa.exists().where(AllowanceMonth.enrolment_id == enrolment.id,
                                                        AllowanceMonth.month == month)))
    if not exists:
        try:
            with session.begin_nested():
                session.add(AllowanceMonth(enrolment_id=enrolment.id, month=month,
                                           allowance=programme.allowance_per_month, used=0))
        except IntegrityError:  # created concurrently: use that row
            pass
    taken = session.execute(
        sa.update(AllowanceMonth)
        .where(AllowanceMonth.enrolment_id == enrolment.id, AllowanceMonth.month == month,
               AllowanceMonth.used < AllowanceMonth.allowance)
        .values(used=AllowanceMonth.used + 1).execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise _allowance_exhausted(programme, month)


def _take_quota(session: Session, award: ProgrammeAward) -> None:
    taken = session.execute(
        sa.update(ProgrammeAward).where(ProgrammeAward.id == award.id, ProgrammeAward.quota_used < ProgrammeAward.quota)
        .values(quota_used=ProgrammeAward.quota_used + 1).execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict(_l("%(name)s has served its whole quota for this programme. Nothing was booked.",
                          name=award.provider.name))
    session.expire(award, ["quota_used"])


def _give_back(session: Session, use: EntitlementUse) -> None:
    session.execute(sa.update(AllowanceMonth)
                    .where(AllowanceMonth.enrolment_id == use.enrolment_id, AllowanceMonth.month == use.month)
                    .values(used=AllowanceMonth.used - 1).execution_options(synchronize_session=False))
    session.execute(sa.update(ProgrammeAward).where(ProgrammeAward.id == use.award_id)
                    .values(quota_used=ProgrammeAward.quota_used - 1).execution_options(synchronize_session=False))
    session.expire(use.award, ["quota_used"])


def _start(session: Session, booking: Booking) -> EntitlementUse:
    """The booking's use of the resident's enrolment in the programme of its award."""
    award = session.get(ProgrammeAward, booking.programme_award_id)
    enrolment = None if award is None else session.scalar(sa.select(Enrolment).where(
        Enrolment.programme_id == award.programme_id, Enrolment.resident_id == booking.resident_id,
        Enrolment.status == EnrolmentStatus.ENROLLED))
    if enrolment is None or award.provider_id != booking.provider_id:
        raise Forbidden(_l("This entitlement is not for this booking."))
    month = month_of(booking.starts_at)
    _take_allowance(session, enrolment, month)
    _take_quota(session, award)
    use = EntitlementUse(booking_id=booking.id, programme_id=enrolment.programme_id, enrolment_id=enrolment.id,
                         award_id=award.id, month=month, amount_fen=award.contract_price_fen,
                         status=U.REQUESTED, created_at=now(), deduction_fen=0)
    session.add(use)
    session.flush()
    return use


def is_proven(session: Session, booking_id: int) -> bool:
    """The visit is verified or cleared for payment (its :class:`VisitRecord` says so)."""
    return bool(session.scalar(sa.select(sa.exists().where(VisitRecord.booking_id == booking_id, settleable()))))


def _move(use: EntitlementUse, to: UseStatus) -> None:
    """Move through ``USE_MACHINE``: an illegal move raises before anything is written."""
    USE_MACHINE.move(use, to)


def _reserve(session: Session, use: EntitlementUse) -> None:
    _move(use, U.RESERVED)
    use.reserved_at = now()
    try:
        ledger.post(session, kind="programme_reserve", cause_type="booking", cause_id=use.booking_id,
                    lines=[(budget_code(use.programme_id), use.amount_fen),
                           (reserved_code(use.programme_id), -use.amount_fen)],
                    idempotency_key=f"entitlement:{use.id}:reserve", memo=f"Visit booking {use.booking_id} reserved")
    except InsufficientFunds:
        raise Conflict(_l("The programme's budget cannot pay for this visit any more: decline the request. "
                          "Nothing was changed.")) from None
    session.flush()


def consume(session: Session, use: EntitlementUse) -> None:
    """The visit is proven (verified or cleared) and served: the reservation becomes
    consumed, payable at the next settlement."""
    _move(use, U.CONSUMED)
    use.consumed_at = now()
    ledger.post(session, kind="programme_consume", cause_type="booking", cause_id=use.booking_id,
                lines=[(reserved_code(use.programme_id), use.amount_fen),
                       (consumed_code(use.programme_id), -use.amount_fen)],
                idempotency_key=f"entitlement:{use.id}:consume", memo=f"Visit booking {use.booking_id} served")
    session.flush()


def release(session: Session, use: EntitlementUse, reason: ReleaseReason) -> None:
    """Give the allowance and quota back and return the money held to the budget: a
    reservation (from ``programme_reserved``) or an unpaid consumption (from
    ``programme_consumed``).  A paid use is never released (it is clawed back)."""
    if use.settlement_id is not None:
        raise Conflict(_l("This visit is paid already: its money can only be clawed back."))
    held_in = {U.RESERVED: reserved_code, U.CONSUMED: consumed_code}.get(use.status)
    _move(use, U.RELEASED)
    use.released_at = now()
    use.release_reason = reason
    _give_back(session, use)
    if held_in is not None:
        ledger.post(session, kind="programme_release", cause_type="booking", cause_id=use.booking_id,
                    lines=[(held_in(use.programme_id), use.amount_fen),
                           (budget_code(use.programme_id), -use.amount_fen)],
                    idempotency_key=f"entitlement:{use.id}:release",
                    memo=f"Visit booking {use.booking_id} released ({reason.value})")
    session.flush()


def on_booking_changed(session: Session, *, booking, old, new, actor) -> None:
    """Keep the entitlement in step with its programme-funded booking (billing calls this
    for those bookings only, through the funding registry)."""
    if old is None and new == S.REQUESTED:
        _start(session, booking)
        return
    use = use_of(session, booking.id)
    if use is None:
        return
    if new == S.ACCEPTED and use.status == U.REQUESTED:
        _reserve(session, use)
    elif new == S.COMPLETED and use.status == U.RESERVED:
        # Consumed only when the visit is proven; usually that comes after completion
        # (billing/programmes/visit_money.py), but a code entered at check-out may come first.
        if is_proven(session, booking.id):
            consume(session, use)
    elif new in RELEASES_MONEY and use.status in (U.REQUESTED, U.RESERVED):
        release(session, use, ReleaseReason.UNSERVED)


@dataclass
class EntitlementSummary:
    enrolment: Enrolment
    month: str
    used: int
    left: int
    listings: list[Listing]


def summaries(session: Session, resident: User) -> list[EntitlementSummary]:
    """The resident's entitlements this month: visits used and left, services covered."""
    month = today().strftime("%Y-%m")
    rows = []
    for enrolment in active_enrolments(session, resident):
        used = used_in_month(session, enrolment.id, month)
        rows.append(EntitlementSummary(enrolment, month, used, max(enrolment.programme.allowance_per_month - used, 0),
                                       covered_listings(session, enrolment)))
    return rows


def uses_of_resident(session: Session, resident: User, limit: int = 50) -> list[EntitlementUse]:
    return list(session.scalars(
        sa.select(EntitlementUse).join(Enrolment, Enrolment.id == EntitlementUse.enrolment_id)
        .options(selectinload(EntitlementUse.booking), selectinload(EntitlementUse.programme))
        .where(Enrolment.resident_id == resident.id).order_by(EntitlementUse.id.desc()).limit(limit)
    ))
