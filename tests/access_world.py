"""The world the access matrix (tests/test_access_matrix.py) walks, and how it looks at it.

One world, committed once to a scratch database of its own: resident A and another
resident A2 (the same community), provider P (staff S) and provider B (staff S2),
an official, an admin.  Every object a route can name belongs to A or to P:
bookings, a rating, a complaint with a photo, a notification, an API token, P's
listing, qualification document, payment policy, October settlement, subsidy
projects and claims (one filed, one in public notice with an objection), a purchase
programme awarded to P with A enrolled, A's code card, a penalty report confirmed and appealed
with a file.  Each test then runs in the usual rolled-back transaction.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app.auth.services import issue_token
from app.extensions import db
from app.grids import services as grid_services
from app.grids import workers as grid_workers
from app.models import CommunityTier, Role
from app.notifications import Notification
from billing import settlements
from billing.payment_models import PayAt, PaymentPolicy
from billing.programmes import eligibility, programmes
from billing.subsidies import review as subsidy_review
from billing.subsidies.models import SubsidyEvidence
from providers import listing_photos, registration, uploads
from providers.bookings import services as bookings
from providers.models import DocumentKind
from providers.visits import cards
from providers.visits.flags import raise_flag
from providers.visits.models import FlagRule
from ratings import complaints
from ratings import services as ratings
from ratings.followups.models import EvaluatorAppointment, FollowUpCall, SampleReason
from ratings.supervision import appeals, grade_reviews, publication
from ratings.supervision import review as supervision_review
from ratings.supervision.sanction_models import AppealFile
from tests import factories
from tests import subsidy_helpers as subsidy
from tests.conftest import PASSWORD, START
from tests.helpers import store_grade
from tests.programme_helpers import ELDER, terms
from tests.rating_helpers import PDF, PNG
from tests.sanction_helpers import report as penalty_report
from tests.visit_helpers import add_photo, image_bytes
from providers.carers.models import Carer, CarerQualification
from tests.carer_helpers import carer_for

ANON, RES, RES2, STAFF, STAFF2, OFFICIAL, ADMIN, EVAL, GRID = (
    "anonymous", "resident", "other_resident", "staff", "other_staff", "official", "admin", "evaluator",
    "grid_worker")
# EVAL: a third-party evaluator appointed to the world's programme; an official of nothing.
# GRID: a grid worker assigned to the grid of A's household (A2 lives in no household).
ROLES = (ANON, RES, RES2, STAFF, STAFF2, OFFICIAL, ADMIN, EVAL, GRID)
# The same kind of user as the owner, who must not learn that the object exists (404).
PEER = {RES2: RES, STAFF2: STAFF}

# The world is made two weeks before the tests' "now" (START), so that its
# bookings are served and completed in October, the month that is settled.
MADE_AT = START - timedelta(days=14)
PERIOD = "2026-10"
# Words only A's and P's objects carry (the list pages of others must not show them).
LISTING_TITLE = "甲方上门保洁"
COMPLAINT_TEXT = "迟到半小时"
RATING_COMMENT = "准时，干净"
PROJECT_TITLE = "地下车库直流快充"
TOKEN_NAME = "revocable"


def build_world(clock) -> dict:
    """Make and commit the world; answer its ids (and the users' phones) by name."""
    clock.set(MADE_AT)
    home = factories.community(tier=CommunityTier.BASIC)
    resident, resident2 = factories.resident(home), factories.resident(home)
    official, admin, official2 = factories.official(), factories.admin(), factories.official()
    provider = factories.provider(communities=[home])
    staff = factories.staff(provider)
    provider2 = factories.provider(communities=[home])
    staff2 = factories.staff(provider2)
    listing = factories.listing(provider, title=LISTING_TITLE)
    factories.listing(provider2)
    db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=PayAt.ACCEPTANCE, late_cancel_fee_percent=20))
    # P's listing photos: one shown, one that its staff may remove.
    shown_photo, spare_photo = listing_photos.store_all(db.session, listing, listing_photos.prepare_all(
        [FileStorage(io.BytesIO(image_bytes("JPEG")), filename=name) for name in ("门头.jpg", "备用.jpg")]),
        actor=staff)
    stored = uploads.save_document(io.BytesIO(PDF), "营业执照.pdf")
    document = registration.add_document(db.session, provider, stored, kind=DocumentKind.BUSINESS_LICENCE,
                                         expires_on=date(2030, 1, 1), actor=staff)
    db.session.commit()

    # A's booking, served and completed in October, rated and complained about (with a photo).
    done = factories.booking(listing, resident)
    bookings.accept(db.session, done, staff, carer_id=carer_for(done))
    clock.set(done.starts_at)
    bookings.check_in(db.session, done, staff)
    clock.set(done.ends_at)
    bookings.complete(db.session, done, staff)
    db.session.commit()
    rating = ratings.rate_booking(db.session, resident, done.id, overall=4, timeliness=4, quality=4,
                                  attitude=4, comment=RATING_COMMENT)
    photo = FileStorage(io.BytesIO(PNG), "现场.png")  # as the complaint form uploads it
    complaint = complaints.file_complaint(db.session, resident, done.id, kind="late", description=COMPLAINT_TEXT,
                                          photos=[photo])
    db.session.commit()
    visit_photo = add_photo(done, staff)  # the carer's photo of that visit
    # Subsidy projects are registered before they are built and accepted.
    project = subsidy.register(provider, staff, home, title=PROJECT_TITLE)
    noticed_project = subsidy.register(provider, staff, home, title="地面慢充", project_type="ev_charger_ac",
                                       quantity="40", investment_fen=4_000_000)

    clock.set(START)
    # A's upcoming booking, accepted by P.
    upcoming = factories.booking(listing, resident)
    bookings.accept(db.session, upcoming, staff, carer_id=carer_for(upcoming))
    token, _raw = issue_token(db.session, resident, TOKEN_NAME)
    db.session.commit()
    settlements.settle(db.session, provider.id, PERIOD)
    db.session.commit()

    programme = programmes.create_programme(db.session, official, terms([home.id]))
    programmes.award(db.session, programme, official, provider_id=provider.id, contract_price_fen=6000, quota=500)
    programmes.open_programme(db.session, programme, official)
    enrolment = eligibility.enrol(db.session, programme, official, phone=resident.phone, facts=ELDER)
    eligibility.enrol(db.session, programme, official, phone=resident2.phone, facts=ELDER)
    db.session.commit()

    # The evaluator works the programme's follow-up calls: A's served visit is in the
    # queue (for the programme) and has an anomaly flag.
    evaluator = factories.user(Role.EVALUATOR)
    db.session.add(EvaluatorAppointment(programme_id=programme.id, user_id=evaluator.id, appointed_by_id=official.id))
    flag = raise_flag(db.session, done, FlagRule.NO_CODE, {"verified_by": None})
    db.session.add(FollowUpCall(booking_id=done.id, provider_id=provider.id, programme_id=programme.id,
                                month=PERIOD, reason=SampleReason.FLAGGED))
    db.session.commit()

    claim = subsidy.file(provider, staff, project)
    noticed = subsidy.file(provider, staff, noticed_project, quantity="40", investment_fen=4_000_000)
    subsidy_review.verify(db.session, noticed.id, official=official)
    subsidy_review.approve(db.session, noticed.id, official=official2)
    objection = subsidy_review.object_to(db.session, noticed.id, user=resident, text="充电桩并未投入使用")
    db.session.commit()

    card, _codes = cards.issue(db.session, resident, official)  # A's code card, in use
    db.session.commit()

    item = penalty_report(provider)
    supervision_review.confirm(db.session, item.id, official)
    plan = uploads.save_document(io.BytesIO(PDF), "整改计划.pdf", field="files")
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, root_cause="人手不足",
                   corrective_actions="增加护理员", preventive_steps="每周复核排班", files=[plan])
    db.session.commit()

    # Due process: P's grade with an open review request; a version announced for comment, a draft.
    snapshot = store_grade(provider.id, "qualified", as_of=START - timedelta(days=30))
    grade_review = grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "请复核")
    announced = publication.create_draft(db.session, official, {"late_rate_percent": "15"}, "放宽迟到率")
    publication.publish(db.session, official, announced.id)
    draft = publication.create_draft(db.session, official, {"window_days": 60}, "缩短窗口")
    db.session.commit()

    # The grid tree: A's household in a grid of A's community, a grid worker on that grid.
    grid = grid_services.create_grid(db.session, official, home, code="G1", name="第一网格")
    household = grid_services.create_household(db.session, official, grid, code="H101", address="般阳路12号101室")
    grid_services.add_member(db.session, official, household, resident.phone)
    grid_worker = factories.user(Role.GRID_WORKER)
    assignment = grid_workers.assign(db.session, official, phone=grid_worker.phone, grid_id=grid.id,
                                     valid_from=MADE_AT.date(), valid_until=None)
    db.session.commit()

    def first(stmt):
        found = db.session.scalar(stmt)
        assert found is not None, stmt
        return found

    world = {
        "community": home.id, "category": listing.category_id, "provider": provider.id, "listing": listing.id,
        "document": document.id, "booking": upcoming.id, "done": done.id, "rating": rating.id,
        "complaint": complaint.id, "photo": complaint.photos[0].id, "visit_photo": visit_photo.id,
        "listing_photo": shown_photo.id, "spare_listing_photo": spare_photo.id,
        "notification": first(sa.select(Notification.id).where(Notification.user_id == resident.id)),
        "token": token.id, "period": PERIOD, "programme": programme.id, "enrolment": enrolment.id,
        "project": project.id, "claim": claim.id, "notice": noticed.id, "objection": objection.id,
        "evidence": first(sa.select(SubsidyEvidence.id).where(SubsidyEvidence.claim_id == claim.id)),
        "project_type": "ev_charger_dc", "tier": CommunityTier.BASIC.value,
        "report": item.id, "run": item.run_id,
        "snapshot": snapshot.id, "grade_review": grade_review.id, "announced": announced.id, "draft": draft.id,
        "appeal_file": first(sa.select(AppealFile.id)),
        "resident_account": resident.id, "card": card.id,
        "flag": flag.id,
        "appointment": first(sa.select(EvaluatorAppointment.id)),
        "grid": grid.id, "household": household.id, "grid_assignment": assignment.id,
        # P's carer on its roster (the factory's), and one of their certificates.
        "carer": first(sa.select(Carer.id).where(Carer.provider_id == provider.id).order_by(Carer.id)),
        "qualification": first(sa.select(CarerQualification.id).join(Carer, Carer.id == CarerQualification.carer_id)
                               .where(Carer.provider_id == provider.id).order_by(CarerQualification.id)),
    }
    world["users"] = {RES: resident.phone, RES2: resident2.phone, STAFF: staff.phone, STAFF2: staff2.phone,
                      OFFICIAL: official.phone, ADMIN: admin.phone, EVAL: evaluator.phone, GRID: grid_worker.phone}
    return world


def log_in_everyone(app, world: dict) -> None:
    """Log each role in once through the real log-in page; keep its session cookie and a
    personal API token (``world["cookies"]``, ``world["bearers"]``)."""
    from app.models import User

    cookie_name = app.config["SESSION_COOKIE_NAME"]
    world["cookies"], world["bearers"] = {}, {}
    for role, phone in world["users"].items():
        client = app.test_client()
        response = client.post("/login", data={"phone": phone, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        world["cookies"][role] = client.get_cookie(cookie_name).value
        user = db.session.scalar(sa.select(User).where(User.phone == phone))
        world["bearers"][role] = issue_token(db.session, user, "matrix")[1]
    db.session.commit()


def client_as(app, world: dict, role: str):
    """A fresh test client carrying ``role``'s session cookie (none for anonymous)."""
    client = app.test_client()
    if role != ANON:
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], world["cookies"][role])
    return client


# --- Looking at the database ------------------------------------------------------------

# Written by a read on purpose: a bearer token records its last use (to the minute).
VOLATILE_COLUMNS = {("api_token", "last_used_at")}


def _tables() -> list[sa.Table]:
    return list(db.metadata.sorted_tables)  # recomputed by SQLAlchemy on each access


def row_counts() -> dict[str, int]:
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table)) for table in _tables()}


def _row_digest(table, dialect: str) -> str:
    """SQL for one value that changes whenever any row of ``table`` does."""
    columns = [c.name for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
    order = ", ".join(f'"{c.name}"' for c in (list(table.primary_key.columns) or table.columns))
    if dialect == "postgresql":
        row = ", ".join(f'"{c}"' for c in columns)
        return f'(SELECT md5(string_agg(ROW({row})::text, chr(30) ORDER BY {order})) FROM "{table.name}")'
    row = " || ',' || ".join(f'quote("{c}")' for c in columns)
    return f'(SELECT group_concat(r, char(30)) FROM (SELECT {row} AS r FROM "{table.name}" ORDER BY {order}))'


_DIGESTS: dict[str, tuple[sa.TextClause, list[str]]] = {}


def fingerprint() -> dict[str, str | None]:
    """A digest of every row of every table (volatile columns left out), in one statement."""
    dialect = db.session.get_bind().dialect.name
    if dialect not in _DIGESTS:
        tables = _tables()
        statement = sa.text("SELECT " + ", ".join(_row_digest(table, dialect) for table in tables))
        _DIGESTS[dialect] = (statement, [table.name for table in tables])
    statement, names = _DIGESTS[dialect]
    return dict(zip(names, db.session.execute(statement).one()))


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))
