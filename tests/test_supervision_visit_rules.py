"""The proof-of-service thresholds (migration 0021_visit_rules): each at
its edge, the early warning, and the penalty reports listing the visits behind each breach."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.extensions import db
from ratings.followups.models import CallOutcome
from ratings.supervision import reports
from ratings.supervision.models import Grade, PenaltyReport, ProviderSnapshot, Sanction
from ratings.supervision.runs import run_evaluation
from tests import factories
from tests.supervision_helpers import as_of, local, programme_provider, result_of, visit


def october(n: int, *, verified: int | None = None, flagged: int = 0, cleared: int = 0, not_served: int = 0):
    """A provider with ``n`` programme visits in October, ``verified`` of them verified (default all
    but the flagged and not-served ones), the last ``flagged`` with an open flag, the ``cleared``
    before those with a cleared one, and the first ``not_served`` found not served on the call."""
    provider, listing, resident, award = programme_provider()
    verified = n - flagged - not_served if verified is None else verified
    made = []
    for i in range(n):
        flags = ["outside_radius"] if i >= n - flagged else []
        cleared_flags = ["short_duration"] if n - flagged - cleared <= i < n - flagged else []
        call = (CallOutcome.NOT_SERVED, 1) if i < not_served else None
        made.append(visit(listing, resident, award, local(2026, 10, 1, 8) + timedelta(hours=i),
                          verified=not_served <= i < not_served + verified, flags=flags, cleared=cleared_flags,
                          call=call))
    db.session.commit()
    return provider, made


@pytest.mark.parametrize("n, verified, breached", [
    (10, 8, True),  # 80 %: below 90 % with 10 visits
    (10, 9, False),  # exactly 90 %: not below
    (9, 0, False),  # none verified, but below the floor of 10 visits
    (20, 17, True),  # 85 %
    (20, 18, False),  # 90 %
])
def test_verified_rate_below_90_percent_with_at_least_10_visits(n, verified, breached):
    provider, _made = october(n, verified=verified)
    result = result_of(provider)
    assert (result.figures["programme_visits"], result.figures["verified_visits"]) == (n, verified)
    assert ("unverified_visits" in result.breaches) is breached


@pytest.mark.parametrize("not_served, breached", [(0, False), (1, True)])
def test_any_not_served_finding_is_a_breach(not_served, breached):
    provider, _made = october(3, not_served=not_served, verified=3 - not_served)
    result = result_of(provider)
    assert result.figures["not_served_visits"] == not_served
    assert ("not_served" in result.breaches) is breached
    assert "unverified_visits" not in result.breaches  # 3 visits: below the floor


@pytest.mark.parametrize("n, flagged, cleared, breached", [
    (50, 5, 0, False),  # exactly 10 %: not above
    (40, 5, 0, True),  # 12.5 % and 5 flagged
    (10, 4, 0, False),  # 40 %, but below the floor of 5
    (40, 4, 1, False),  # a cleared flag does not count: 4 of 40
])
def test_flagged_rate_above_10_percent_with_at_least_5_flagged(n, flagged, cleared, breached):
    provider, _made = october(n, flagged=flagged, cleared=cleared, verified=n)
    result = result_of(provider)
    assert result.figures["flagged_visits"] == flagged
    assert ("flagged_visits" in result.breaches) is breached


@pytest.mark.parametrize("verified, near", [(45, True), (46, False)])
def test_the_early_warning_comes_before_the_verified_rate_breaks(verified, near):
    """At 80 % of the way: below 90 % + 10 % × 20 % = 92 % (like the rating's warning)."""
    provider, _made = october(50, verified=verified)
    result = result_of(provider)
    assert "unverified_visits" not in result.breaches
    assert ("unverified_visits" in result.near) is near


def test_reports_list_the_visits_behind_each_breach_on_the_same_ladder(client, auth, en):
    # 10 visits: the first not served (and so unverified), one more unverified, 8 verified
    provider, made = october(10, verified=8, not_served=1)
    staff = factories.staff(provider)
    outcome = run_evaluation(db.session, as_of(), trigger="cli")
    db.session.commit()
    snapshot = db.session.scalar(sa.select(ProviderSnapshot).where(
        ProviderSnapshot.run_id == outcome.run.id, ProviderSnapshot.provider_id == provider.id))
    assert snapshot.breaches == ["unverified_visits", "not_served"] and snapshot.grade == Grade.UNQUALIFIED
    assert snapshot.figures["verified_rate"] == pytest.approx(0.8)
    found = {r.metric: r for r in db.session.scalars(
        sa.select(PenaltyReport).where(PenaltyReport.provider_id == provider.id))}
    unverified, not_served = found["unverified_visits"], found["not_served"]
    unverified_ids = sorted([made[0].id, made[9].id])
    assert (unverified.count, unverified.denominator, unverified.value) == (8, 10, pytest.approx(0.8))
    assert unverified.threshold == {"min_count": 10, "rate_below_bp": 9000}
    assert unverified.evidence == {"booking": unverified_ids}
    assert (not_served.count, not_served.denominator, not_served.threshold) == (1, None, {"min_count": 1})
    assert not_served.evidence == {"booking": [made[0].id]}
    # one evaluation, one step up the ladder for both
    assert {r.proposed_sanction for r in found.values()} == {Sanction.WARNING}
    with force_locale("en"):
        assert reports.describe_limits(unverified.threshold) == "below 90 % with at least 10 visits"
        assert reports.threshold_label("not_served") == "Not-served findings"

    auth.login(staff)
    page = client.get(f"/provider/supervision/reports/{unverified.id}").get_data(as_text=True)
    assert f'id="booking-{made[0].id}"' in page and f'id="booking-{made[9].id}"' in page
    assert f'id="booking-{made[1].id}"' not in page
    assert "Why it counts" in page and "Not served (follow-up call)" in page and "Not verified" in page
    assert "80.0% (8 / 10)" in page


def test_a_flagged_report_names_the_rules(client, auth, en):
    provider, made = october(40, flagged=5, verified=40)
    run_evaluation(db.session, as_of(), trigger="cli")
    db.session.commit()
    report = db.session.scalar(sa.select(PenaltyReport).where(PenaltyReport.provider_id == provider.id,
                                                              PenaltyReport.metric == "flagged_visits"))
    assert report.evidence == {"booking": sorted(b.id for b in made[-5:])}
    assert (report.count, report.denominator) == (5, 40)
    auth.login(factories.official())
    page = client.get(f"/official/supervision/reports/{report.id}").get_data(as_text=True)
    assert page.count("Open flags: Checked in or out far from the resident&#39;s home") == 5
    run_page = client.get(f"/official/supervision/runs/{report.run_id}").get_data(as_text=True)
    assert "40: verified 100.0%, flagged 12.5%, not served 0" in run_page
