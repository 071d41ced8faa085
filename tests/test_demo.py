"""The demo data that `make run` loads."""

import sqlalchemy as sa

from app.models import Role, User
from app.passwords import verify_password
from providers.demo import DEMO_PASSWORD, load_demo
from providers.models import Listing, ListingStatus, Provider, ProviderStatus


def test_demo_data_loads_once_with_working_logins(db_session):
    assert load_demo(db_session) is True
    assert load_demo(db_session) is False  # idempotent

    statuses = dict(db_session.execute(sa.select(Provider.name, Provider.status)).all())
    assert sorted(statuses.values()) == sorted(
        [ProviderStatus.ACTIVE, ProviderStatus.ACTIVE, ProviderStatus.PENDING, ProviderStatus.REJECTED]
    )
    published = db_session.scalar(
        sa.select(sa.func.count()).select_from(Listing).where(Listing.status == ListingStatus.PUBLISHED)
    )
    assert published >= 6
    official = db_session.scalar(sa.select(User).where(User.phone == "13900000001"))
    assert official.role == Role.OFFICIAL
    assert verify_password(official.password_hash, DEMO_PASSWORD)
    for provider in db_session.scalars(sa.select(Provider)):
        assert provider.documents, provider.name


def test_demo_history_gives_the_scorecards_something_to_show(db_session):
    from ratings.demo import load_history
    from ratings.scorecard import current_window, scorecard

    load_demo(db_session)
    written = load_history(db_session)
    assert written > 50
    assert load_history(db_session) == 0  # idempotent
    providers = {p.name: p for p in db_session.scalars(sa.select(Provider))}
    good = scorecard(db_session, providers["安康居家养老服务中心"].id, current_window(365)).values()
    late = scorecard(db_session, providers["洁美家政服务有限公司"].id, current_window(365)).values()
    assert late["late_rate"] > good["late_rate"]
    assert late["upheld_complaints"] >= 1
    assert late["rating_mean"] < good["rating_mean"]
    for listing in db_session.scalars(sa.select(Listing)):
        from ratings.models import Rating

        visible = db_session.scalars(
            sa.select(Rating.overall).where(Rating.listing_id == listing.id, Rating.hidden_at.is_(None))
        ).all()
        assert (listing.rating_count, listing.rating_sum) == (len(visible), sum(visible))


def _catalogue_titles(session, community_code: str) -> set[str]:
    from app.models import Community
    from providers.catalogue import CatalogueQuery, search

    community = session.scalar(sa.select(Community).where(Community.code == community_code))
    return {listing.title for listing in search(session, CatalogueQuery(community_id=community.id, per_page=50)).items}


def test_each_demo_community_sees_its_own_services(db_session):
    load_demo(db_session)
    chengli = _catalogue_titles(db_session, "zichuan-chengli")
    banyang = _catalogue_titles(db_session, "zichuan-banyang")
    # Both: meals and home care; only 城里社区: the doctor's rounds, day care, the deep clean;
    # only 般阳社区: hourly cleaning and repairs (README.md, "Demo log-ins").
    assert {"老年助餐送餐上门", "居家照护（助浴、助洁）"} <= chengli & banyang
    assert chengli - banyang == {"家庭医生上门巡诊", "日间照料中心托养", "上门深度保洁（两小时）"}
    assert banyang - chengli == {"日常保洁（按小时）", "水电维修上门"}


def test_the_demo_programme_has_months_of_history_for_its_budget_chart(db_session):
    from billing.programmes import budget
    from billing.programmes.demo import HISTORY_MONTHS, load_programme_demo, month_start
    from billing.programmes.models import Enrolment, PurchaseProgramme
    from billing.programmes.visit_demo import EARLIER_VISITS, VISITS, load_visit_demo
    from billing.payment_models import Settlement
    from providers.bookings.models import Booking, Funding
    from providers.carers.demo import load_demo as load_carers
    from ratings.demo import load_history

    load_demo(db_session)
    load_carers(db_session)
    load_history(db_session)
    assert load_programme_demo(db_session) is True
    served = load_visit_demo(db_session)
    assert served == sum(EARLIER_VISITS) + VISITS
    assert load_visit_demo(db_session) == 0  # idempotent

    programme = db_session.scalar(sa.select(PurchaseProgramme))
    assert programme.start_date == month_start(HISTORY_MONTHS)
    starts = db_session.scalars(sa.select(Booking.starts_at).where(Booking.funding == Funding.PROGRAMME)).all()
    months = sorted({s.strftime("%Y-%m") for s in starts})
    assert months == [month_start(m).strftime("%Y-%m") for m in range(HISTORY_MONTHS, 0, -1)]
    assert len(db_session.scalars(sa.select(Enrolment.id).where(Enrolment.programme_id == programme.id)).all()) == 6
    # Each month settled; the chart draws a falling line from the opening to today.
    settled = db_session.scalars(sa.select(Settlement.period).where(Settlement.provider_id == programme.awards[0].provider_id)).all()
    assert set(months) <= set(settled)
    points = budget.series(db_session, programme)
    assert len(points) > 120
    assert points[0][1] == programme.budget_fen and points[0][2] == 0
    assert points[-1][1] < points[len(points) // 2][1] < points[0][1]
    figures = budget.figures(db_session, programme)
    assert figures.consumed > 0 and figures.remaining + figures.reserved + figures.consumed == programme.budget_fen
