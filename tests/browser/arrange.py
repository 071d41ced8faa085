"""What the other people in a journey do, through the app's own services on the live database.

A role's journey clicks through its own pages; what someone else does meanwhile (the official who
approves the provider's registration, the provider who serves the resident's booking, the evaluator
that proposes a penalty) is done here, as the real services do it, and committed.  Every helper
makes fresh data (new phone numbers, credit codes, titles), so no run leans on another's leftovers.
"""

from __future__ import annotations

import io
import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa

from app.auth.services import sign_up_resident
from app.clock import now, today
from app.extensions import db
from app.models import Community, SmsMessage, User
from providers import creditcode, registration, uploads, vetting
from providers.bookings import services as bookings
from providers.bookings.models import Booking
from providers.bookings.slots import available_slots
from providers.models import Listing, Provider, ProviderStaff, ServiceCategory, required_document
from tests.subsidy_helpers import PDF, PNG
from tests.carer_helpers import carer_for

PASSWORD = "journey-pass-1"
OFFICIAL = "13900000001"  # 王科长 (demo)
CHENGLI = "zichuan-chengli"  # 城里社区 (demo)

# Phones 135… (residents) and 136… (provider staff) and credit codes from 800000 on are used by no
# demo account and no other browser test (the live database is made anew for each test session).
_numbers = itertools.count(100)  # from 100: 13500000001 is the demo's grid worker


# The numbers tests/factories.py makes phones and credit codes from, for the browser tests that
# build their world with the factories in the live database: one sequence for the whole session,
# so no two tests make the same phone whatever order they run in.
FACTORY_NUMBERS = itertools.count(900_000)


def far_factory_numbers() -> None:
    from tests import factories

    factories._seq = FACTORY_NUMBERS


def fresh_number() -> int:
    return next(_numbers)


def fresh_phone(prefix: str) -> str:
    return f"{prefix}{fresh_number():08d}"


def fresh_credit_code() -> str:
    body = f"91370302MB{800000 + fresh_number():06d}X"[:17]
    return body + creditcode.check_character(body)


def user(phone: str) -> User:
    return db.session.scalar(sa.select(User).where(User.phone == phone))


def community_id(code: str = CHENGLI) -> int:
    return db.session.scalar(sa.select(Community.id).where(Community.code == code))


def category_id(code: str) -> int:
    return db.session.scalar(sa.select(ServiceCategory.id).where(ServiceCategory.code == code))


def ids(app) -> dict[str, int]:
    """Ids the forms offer as choices: 城里社区 and the categories the journeys use."""
    with app.app_context():
        return {"chengli": community_id(), "housekeeping": category_id("housekeeping"),
                "home_care": category_id("home_care")}


def sms_code(app, phone: str) -> str:
    """The latest code the embedded SMS channel (the outbox) holds for the phone."""
    import re

    with app.app_context():
        body = db.session.scalar(sa.select(SmsMessage.body).where(SmsMessage.phone == phone)
                                 .order_by(SmsMessage.id.desc()).limit(1))
    assert body, f"no SMS to {phone}"
    return re.search(r"\b\d{6}\b", body).group()


# --- residents -------------------------------------------------------------------


def resident(app, name: str, community: str = CHENGLI) -> str:
    """A resident signed up in the community; returns the phone (the log-in)."""
    phone = fresh_phone("135")
    with app.app_context():
        sign_up_resident(db.session, phone=phone, name=name, password=PASSWORD, community_id=community_id(community))
        db.session.commit()
    return phone


def book_first_slot(app, resident_phone: str, listing_id: int, address: str = "城里社区3号楼2单元101") -> int:
    """The resident asks for the listing's first free slot; returns the booking id."""
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        starts_at, _left = available_slots(db.session, listing)[0]
        booking = bookings.request_booking(db.session, user(resident_phone), listing_id=listing_id,
                                           starts_at=starts_at, address=address)
        db.session.commit()
        return booking.id


# --- providers -------------------------------------------------------------------


def pending_provider(app, name: str, categories=("home_care",), communities=(CHENGLI,)) -> tuple[int, str]:
    """An organisation registered (pending review); returns its id and its staff phone."""
    phone = fresh_phone("136")
    with app.app_context():
        provider, staff = registration.register_provider(
            db.session,
            registration.ProviderDetails(
                name=name, credit_code=fresh_credit_code(), legal_representative="郑法人", contact_name="郑联系",
                contact_phone=phone, category_ids=[category_id(c) for c in categories],
                community_ids=[community_id(c) for c in communities]),
            staff_name="郑联系", staff_phone=phone, password=PASSWORD)
        # The qualifications its categories need (providers.models.REQUIRED_DOCUMENTS), so it can be approved.
        for kind in sorted({required_document(c) for c in provider.categories} - {None}):
            stored = uploads.save_document(io.BytesIO(PDF), f"{kind}.pdf")
            registration.add_document(db.session, provider, stored, kind=kind,
                                      expires_on=today() + timedelta(days=365), actor=staff)
        db.session.commit()
        return provider.id, phone


def provider_named(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Provider.id).where(Provider.name == name))


def approve(app, provider_id: int, official: str = OFFICIAL) -> None:
    """The district approves the provider's registration."""
    with app.app_context():
        vetting.decide(db.session, vetting.get_provider(db.session, provider_id, for_update=True), "approve",
                       official=user(official))
        db.session.commit()


def staff_of(provider_id: int) -> User:
    return db.session.scalar(sa.select(User).join(ProviderStaff, ProviderStaff.user_id == User.id)
                             .where(ProviderStaff.provider_id == provider_id).limit(1))


def add_carer(app, provider_id: int, name: str = "韩秀梅") -> int:
    """A carer on the provider's roster, holding every certificate (what its staff would add on
    the roster pages: tests/browser/test_carers_browser.py walks them)."""
    from tests.carer_helpers import carer

    with app.app_context():
        carer_id = carer(provider_id, name=name).id
        db.session.commit()
        return carer_id


def booking_times(app, booking_id: int):
    """When the visit starts and ends (UTC)."""
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        return booking.starts_at, booking.ends_at


def accept(app, booking_id: int) -> None:
    """The provider accepts the booking request."""
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        bookings.accept(db.session, booking, staff_of(booking.provider_id), carer_id=carer_for(booking))
        db.session.commit()


def serve(app, clock, booking_id: int, *, payment_received: bool = False) -> None:
    """The provider (having accepted; and received the money on site, if asked) arrives on time
    and finishes: the clock moves past the visit."""
    from billing import payments

    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        if payment_received:
            payments.confirm_offline_receipt(db.session, booking)
        db.session.commit()
        starts, ends = booking.starts_at, booking.ends_at
    clock.set(starts + timedelta(minutes=5))
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        bookings.check_in(db.session, booking, staff_of(booking.provider_id))
        db.session.commit()
    clock.set(ends + timedelta(minutes=5))
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        bookings.complete(db.session, booking, staff_of(booking.provider_id))
        db.session.commit()


def subsidy_claim(app, provider_id: int, title: str) -> int:
    """The provider registered an AC charging project in 城里社区, built it and filed its claim."""
    from billing.subsidies import claims, projects
    from billing.subsidies.models import EvidenceKind

    with app.app_context():
        provider = db.session.get(Provider, provider_id)
        staff = staff_of(provider_id)
        project = projects.register_project(db.session, provider, projects.ProjectInput(
            community_id=community_id(), project_type="ev_charger_ac", title=title, planned_quantity="20",
            planned_investment_fen=4_000_000), actor=staff)
        evidence = claims.store_evidence([(EvidenceKind.ACCEPTANCE_CERTIFICATE, io.BytesIO(PDF), "验收证书.pdf"),
                                          (EvidenceKind.INVOICE, io.BytesIO(PDF), "发票.pdf"),
                                          (EvidenceKind.PHOTO, io.BytesIO(PNG), "现场.png")])
        claim = claims.file_claim(db.session, provider, project.id, claims.ClaimInput(
            accepted_on=today(), verified_quantity=Decimal("20"), verified_investment_fen=4_000_000,
            requested_fen=None, evidence=evidence), actor=staff)
        db.session.commit()
        return claim.id


# --- supervision -----------------------------------------------------------------


def penalty_report(app, provider_id: int, *, confirmed_by: str | None = None) -> int:
    """A late-arrival report with a proposed warning, as an evaluation run writes it (the evaluator
    itself runs in test_supervision_journey.py); confirmed by an official when asked."""
    from ratings.supervision import review, rules
    from ratings.supervision.models import SEVERITY_OF, EvaluationRun, PenaltyReport, ReportStatus, Sanction

    with app.app_context():
        current = now()
        # One run per as-of time, ever: a local midnight of 2001 that no other run uses.
        as_of = datetime(2000, 12, 31, 16, tzinfo=timezone.utc) + timedelta(days=fresh_number())
        run = EvaluationRun(as_of=as_of, rule_set_id=rules.current(db.session).id, trigger="cli", grade_counts={})
        db.session.add(run)
        db.session.flush()
        report = PenaltyReport(
            run_id=run.id, provider_id=provider_id, metric="late", value=0.2, count=6, denominator=30,
            threshold={"rate_bp": 1000, "min_count": 5}, window_start=current - timedelta(days=90), window_end=current,
            ladder_step=1, proposed_sanction=Sanction.WARNING, severity=SEVERITY_OF[Sanction.WARNING],
            status=ReportStatus.PROPOSED, evidence={"booking": []}, created_at=current, status_changed_at=current)
        db.session.add(report)
        db.session.flush()
        if confirmed_by:
            review.confirm(db.session, report.id, user(confirmed_by))
        db.session.commit()
        return report.id
