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
