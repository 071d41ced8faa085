"""The month's follow-up sample: a share of each provider's programme visits (at least
a minimum, or all), deterministic and idempotent, plus every flagged visit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.errors import Invalid
from app.extensions import db
from ratings.followups.models import FollowUpCall, SampleReason
from ratings.followups.sampling import previous_month, sample_month, sample_size
from tests import factories
from tests.flag_helpers import close_visit, booked, programme_visits
from tests.programme_helpers import open_programme

MONTH = "2026-11"  # the tests' clock starts on 2 November


def calls() -> list[FollowUpCall]:
    return db.session.scalars(sa.select(FollowUpCall).order_by(FollowUpCall.booking_id)).all()


@pytest.mark.parametrize("visits,expected", [(0, 0), (1, 1), (2, 2), (19, 2), (20, 2), (21, 3), (30, 3)])
def test_the_sample_size_is_the_share_with_a_floor(app, visits, expected):
    assert sample_size(visits) == expected


def test_a_provider_with_few_visits_has_all_sampled_and_a_rerun_adds_nothing():
    programme, award, listing, *_ = open_programme()
    visits = programme_visits(2, listing, award)
    outcome = sample_month(db.session, MONTH)
    assert (outcome.sampled, outcome.flagged) == (2, 0)
    assert [c.booking_id for c in calls()] == [v.id for v in visits]
    assert all(c.programme_id == programme.id and c.reason == SampleReason.SAMPLED and c.month == MONTH
               for c in calls())
    again = sample_month(db.session, MONTH)
    assert (again.sampled, again.flagged) == (0, 0) and len(calls()) == 2


def test_the_share_of_a_larger_provider_is_drawn_the_same_way_every_time(app):
    _programme, award, listing, *_ = open_programme(capacity=2)
    programme_visits(25, listing, award)
    sample_month(db.session, MONTH)
    first = [c.booking_id for c in calls()]
    assert len(first) == 3  # 10 % of 25, rounded up
    db.session.execute(sa.delete(FollowUpCall))
    sample_month(db.session, MONTH)
    assert [c.booking_id for c in calls()] == first


def test_resident_paid_visits_and_other_months_are_not_sampled():
    _programme, award, listing, *_ = open_programme()
    close_visit(booked(listing))  # resident-paid
    programme_visits(1, listing, award)
    assert sample_month(db.session, "2026-10").sampled == 0
    assert sample_month(db.session, MONTH).sampled == 1


def test_every_visit_with_an_open_flag_is_queued_too():
    _programme, award, listing, *_ = open_programme()
    programme_visits(30, listing, award)
    flagged, _ = close_visit(booked(factories.listing()), check_in=None)  # resident-paid, flagged
    outcome = sample_month(db.session, MONTH)
    assert (outcome.sampled, outcome.flagged) == (3, 1)
    call = db.session.scalar(sa.select(FollowUpCall).where(FollowUpCall.booking_id == flagged.id))
    assert call.reason == SampleReason.FLAGGED and call.programme_id is None


def test_a_bad_month_is_refused(clock):
    with pytest.raises(Invalid):
        sample_month(db.session, "2026-13")
    assert previous_month() == "2026-10"


def test_the_cli_samples_a_month(app):
    _programme, award, listing, *_ = open_programme()
    programme_visits(2, listing, award)
    result = app.test_cli_runner().invoke(args=["follow-ups", "sample", "--month", MONTH])
    assert result.exit_code == 0, result.output
    assert "2 sampled" in result.output
    assert app.test_cli_runner().invoke(args=["follow-ups", "sample", "--month", "11/2026"]).exit_code == 2
