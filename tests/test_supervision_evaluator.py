"""The evaluator: every threshold at its edge, windows in Asia/Shanghai, exclusions,
new providers, grades, and the demo data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from providers.bookings.models import BookingStatus as S
from providers.models import DocumentKind, Provider
from ratings.supervision import exclusions, rules
from ratings.supervision.evaluator import evaluate
from ratings.supervision.models import Grade
from tests import factories
from tests.conftest import START
from tests.supervision_helpers import (
    as_of,
    booking,
    bookings,
    document,
    local,
    rate,
    result_of,
    serving_provider,
    upheld,
)


@pytest.mark.parametrize("n, late, breached", [
    (50, 5, False),  # exactly 10 %: not above 10 %
    (50, 6, True),  # 12 % and 6 late
    (20, 4, False),  # 20 %, but one below the floor of 5
    (20, 5, True),  # 25 % and 5 late
])
def test_late_rate_and_count_both_needed(n, late, breached):
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, n, late=late)
    result = result_of(provider)
    assert result.figures["late_bookings"] == late and result.figures["due_bookings"] == n
    assert ("late" in result.breaches) is breached
    assert result.window_days == 90


@pytest.mark.parametrize("cancelled, breached", [(3, False), (4, True)])
def test_cancellations_and_no_shows_above_5_percent_and_at_least_3(cancelled, breached):
    provider, listing, resident, _ = serving_provider()
    # 60 due: 3 is exactly 5 % (not above); 4 is 6.6 %
    no_shows = 1
    bookings(listing, resident, 60 - cancelled, status_n={S.CANCELLED_BY_PROVIDER: cancelled - no_shows,
                                                           S.NO_SHOW_PROVIDER: no_shows})
    result = result_of(provider)
    assert result.figures["cancellations_and_no_shows"] == cancelled
    assert ("cancellations" in result.breaches) is breached


def test_two_cancellations_of_ten_are_20_percent_but_below_the_floor():
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 18, status_n={S.CANCELLED_BY_PROVIDER: 2})
    assert "cancellations" not in result_of(provider).breaches


@pytest.mark.parametrize("count, breached", [(2, False), (3, True)])
def test_upheld_complaints_at_least_3(count, breached):
    provider, listing, resident, _ = serving_provider()
    made = bookings(listing, resident, 25)
    for b in made[:count]:
        upheld(b, local(2026, 10, 20))
    upheld(made[10], local(2026, 11, 1, 0, 0))  # decided at the as-of midnight: the next window
    db.session.commit()
    result = result_of(provider)
    assert result.figures["upheld_complaints"] == count
    assert ("complaints" in result.breaches) is breached


@pytest.mark.parametrize("ratings_given, breached", [
    ([3] * 8 + [4] * 3, False),  # 11 ratings, sum 36: (20 + 36) / 16 = 3.5 exactly, not below
    ([3] * 9 + [4] * 1 + [1], True),  # sum 32: 3.25
    ([1] * 9, False),  # terrible, but 9 ratings: one below the minimum of 10
])
def test_rating_below_3_5_with_at_least_10_ratings(ratings_given, breached):
    provider, listing, resident, _ = serving_provider()
    made = bookings(listing, resident, 25)
    for b, score in zip(made, ratings_given):
        rate(b, score)
    db.session.commit()
    result = result_of(provider)
    assert result.figures["rating_count"] == len(ratings_given)
    assert ("rating" in result.breaches) is breached


def test_expired_requests_rate_and_count():
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 27, status_n={S.EXPIRED: 3})  # 3 of 30 = 10 %: not above
    assert "expired_requests" not in result_of(provider).breaches
    bookings(listing, resident, 0, status_n={S.EXPIRED: 1}, first=local(2026, 10, 20, 9))
    result = result_of(provider)
    assert result.figures["expired_requests"] == 4 and "expired_requests" in result.breaches


def test_expired_qualification_document_unless_renewed():
    provider, listing, resident, staff = serving_provider()
    bookings(listing, resident, 25)
    document(provider, date(2026, 10, 31), uploaded_by=staff)  # expired the day before the as-of day
    document(provider, date(2026, 11, 1), kind=DocumentKind.LIABILITY_INSURANCE, uploaded_by=staff)  # still valid
    result = result_of(provider)
    assert result.figures["expired_documents"] == 1 and "documents" in result.breaches
    document(provider, date(2027, 10, 31), uploaded_by=staff)  # renewed
    assert "documents" not in result_of(provider).breaches


def test_window_boundaries_are_local_midnights():
    """As of 1 November: the 90 days are 3 August 00:00 to 31 October 23:59:59 Shanghai time."""
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 25)
    inside = [booking(listing, resident, local(2026, 10, 31, 23, 59), late=True),
              booking(listing, resident, local(2026, 8, 3, 0, 0), late=True)]
    outside = [booking(listing, resident, local(2026, 11, 1, 0, 0), late=True),
               booking(listing, resident, local(2026, 8, 2, 23, 59), late=True)]
    db.session.commit()
    result = result_of(provider)
    assert result.window.start == local(2026, 8, 3, 0, 0) and result.window.end == local(2026, 11, 1, 0, 0)
    assert result.figures["late_bookings"] == 2
    assert result.figures["due_bookings"] == 27
    assert {b.id for b in inside} and {b.id for b in outside}  # all four were written
    # a day later the 00:00 booking is in, the 3 August one is out
    assert result_of(provider, date(2026, 11, 2)).figures["late_bookings"] == 2


def test_a_booking_across_midnight_belongs_to_the_day_it_starts():
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 25)
    booking(listing, resident, local(2026, 10, 31, 23, 30), late=True, minutes=60)  # ends 00:30 + 40 min
    db.session.commit()
    result = result_of(provider)
    assert result.figures["late_bookings"] == 1  # due (and late) by its start, 31 October
    assert result.figures["late_finishes"] == 0  # its end, 1 November, is in the next window


def test_excluded_bookings_no_longer_count():
    provider, listing, resident, _ = serving_provider()
    made = bookings(listing, resident, 50, late=6)
    assert "late" in result_of(provider).breaches
    official = factories.official()
    for b in made[:2]:
        exclusions.exclude(db.session, official, b.id, "resident_fault", "居民临时改约，未通知")
    db.session.commit()
    result = result_of(provider)
    assert result.figures["late_bookings"] == 4 and result.figures["due_bookings"] == 48
    assert result.figures["excluded_bookings"] == 2
    assert "late" not in result.breaches


def test_new_providers_are_graded_new_without_breaches():
    provider, listing, resident, _ = serving_provider(days=30)
    bookings(listing, resident, 20, late=10, first=local(2026, 10, 5, 9))
    result = result_of(provider)
    assert result.grade == Grade.NEW and result.breaches == []
    assert result.figures["late_bookings"] == 10  # the figures are still there to see


def test_few_finished_bookings_use_the_long_window():
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 10, late=5, first=local(2026, 3, 2, 9))  # in 365 days, not in 90
    bookings(listing, resident, 5)
    result = result_of(provider)
    assert result.window_days == 365 and result.figures["late_bookings"] == 5
    assert "late" in result.breaches  # 5 of 15


def test_grades():
    rule_set = rules.current(db.session)
    excellent, listing, resident, _ = serving_provider()
    for b in bookings(listing, resident, 25)[:12]:
        rate(b, 5)
    qualified, listing2, resident2, _ = serving_provider()
    bookings(listing2, resident2, 50, late=6)
    unqualified, listing3, resident3, _ = serving_provider()
    made = bookings(listing3, resident3, 50, late=6)
    for b in made[:3]:
        upheld(b, local(2026, 10, 20))
    good, listing4, resident4, _ = serving_provider()
    bookings(listing4, resident4, 25)
    db.session.commit()
    grades = {r.provider_id: r.grade for r in evaluate(db.session, rule_set, as_of()).results}
    assert grades[excellent.id] == Grade.EXCELLENT
    assert grades[qualified.id] == Grade.QUALIFIED
    assert grades[unqualified.id] == Grade.UNQUALIFIED
    assert grades[good.id] == Grade.GOOD


def test_pending_and_removed_providers_are_not_evaluated():
    from providers.models import ProviderStatus

    pending = factories.provider(status=ProviderStatus.PENDING)
    active, *_ = serving_provider()
    ids = {r.provider_id for r in evaluate(db.session, rules.current(db.session), as_of()).results}
    assert active.id in ids and pending.id not in ids


def test_the_evaluator_runs_a_fixed_number_of_statements(db_session):
    from tests.test_scorecard import counting

    for _ in range(3):
        provider, listing, resident, _ = serving_provider()
        bookings(listing, resident, 10, late=3)
    rule_set, at = rules.current(db.session), as_of()
    statements = []
    with counting(statements):
        evaluate(db.session, rule_set, at)
    assert len(statements) == 3  # providers, the two windows' figures (expired documents among them)


def test_demo_data_flags_jiemei_and_not_ankang(db_session):
    from providers.demo import load_demo
    from ratings.demo import load_history

    load_demo(db_session)
    load_history(db_session)
    db_session.commit()
    evaluation = evaluate(db_session, rules.current(db_session), as_of(START.date()))
    names = dict(db_session.execute(sa.select(Provider.id, Provider.name)).all())
    by_name = {names[r.provider_id]: r for r in evaluation.results}
    jiemei, ankang = by_name["洁美家政服务有限公司"], by_name["安康居家养老服务中心"]
    assert "late" in jiemei.breaches and jiemei.grade == Grade.UNQUALIFIED
    assert ankang.breaches == [] and ankang.grade in (Grade.GOOD, Grade.EXCELLENT)
    assert set(by_name) == {"洁美家政服务有限公司", "安康居家养老服务中心"}  # pending/rejected ones are not graded


def test_window_days_are_whole_local_days():
    provider, listing, resident, _ = serving_provider()
    bookings(listing, resident, 20)
    window = result_of(provider).window
    assert window.end - window.start == timedelta(days=90)
