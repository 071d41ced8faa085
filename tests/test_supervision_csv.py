"""Every list an official works from downloads as CSV: the page's "Download CSV" link carries
its filter, the file has the rows the page's filter selects (every page of them), labels
instead of codes, times in Asia/Shanghai, and a name typed as a formula stays text.
(Who may download each is in the access matrix, tests/access_table.py.)"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from app.extensions import db
from providers.models import ProviderStatus
from ratings.supervision import exclusions, grade_reviews, review
from ratings.supervision.models import Grade, Sanction
from ratings.supervision.runs import run_evaluation
from tests import factories
from tests.conftest import START
from tests.flag_helpers import booked, close_visit
from tests.helpers import store_grade
from tests.sanction_helpers import report, run
from tests.supervision_helpers import as_of, booking, bookings, local, rate, serving_provider, upheld

pytestmark = pytest.mark.usefixtures("english_messages")

EVIL = '=HYPERLINK("x")'
SAFE = "'" + EVIL


def page_and_csv(client, url: str):
    """The page's HTML and the rows of the CSV its "Download CSV" link gives (header first)."""
    page = client.get(url)
    assert page.status_code == 200, url
    html = page.get_data(as_text=True)
    link = BeautifulSoup(html, "html.parser").select_one("a#csv-link")
    assert link is not None and link.has_attr("download"), f"no CSV link on {url}"
    got = client.get(link["href"])
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert "attachment" in got.headers["Content-Disposition"]
    text = got.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return html, list(csv.reader(io.StringIO(text[1:]))), link["href"]


def ids_on(html: str, prefix: str) -> list[int]:
    return [int(n) for n in re.findall(rf'id="{prefix}-(\d+)"', html)]


def first_column(rows) -> list[int]:
    return [int(r[0]) for r in rows[1:]]


@pytest.fixture
def official(auth):
    user = factories.official()
    auth.login(user)
    return user


def test_runs(client, official):
    run(), run()
    db.session.commit()
    html, rows, _ = page_and_csv(client, "/official/supervision/runs")
    assert first_column(rows) == ids_on(html, "run") and len(rows) == 3
    assert rows[0][:3] == ["Run", "As of", "Rule set"] and rows[1][3] == "System (command line)"


def test_penalty_reports_and_the_review_queue(client, official):
    evil = factories.provider(name=EVIL)
    low = report(evil)
    medium = report(factories.provider(), Sanction.FINE)
    confirmed = report(factories.provider())
    review.confirm(db.session, confirmed.id, factories.official())
    db.session.commit()
    html, rows, href = page_and_csv(client, "/official/supervision/reports?status=proposed&severity=low")
    assert "status=proposed" in href and "severity=low" in href
    assert first_column(rows) == ids_on(html, "report") == [low.id]
    assert rows[1][1] == SAFE and rows[1][5] == "Warning" and rows[1][7] == "Proposed, waiting for review"
    assert rows[1][3] == "12.0% (6 / 50)"
    html, rows, _ = page_and_csv(client, "/official/supervision/reports")
    assert first_column(rows) == ids_on(html, "report") == [low.id, medium.id, confirmed.id]
    html, rows, href = page_and_csv(client, "/official/supervision/queue?severity=medium")
    assert first_column(rows) == ids_on(html, "queue") == [medium.id]
    html, rows, _ = page_and_csv(client, "/official/supervision/queue")
    assert first_column(rows) == ids_on(html, "queue") == [low.id, medium.id]
    assert rows[1][1] == SAFE


def test_sanctions_on_record(client, official):
    evil = factories.provider(name=EVIL)
    confirmed = report(evil, Sanction.FINE)
    report(factories.provider())  # proposed: not a sanction yet
    review.confirm(db.session, confirmed.id, official)
    db.session.commit()
    _html, rows, _ = page_and_csv(client, "/official/supervision/dashboard")
    assert first_column(rows) == [confirmed.id]
    assert rows[1][1] == SAFE and rows[1][3] == "Fine" and rows[1][5] == "Confirmed"
    assert re.fullmatch(r"2026-11-02 10:00", rows[1][6])  # 02:00 UTC is 10:00 in Shanghai


def test_the_league_table_for_a_community(client, official):
    evil = factories.provider(name=EVIL)
    other = factories.provider()
    run_obj = store_grade(evil.id, Grade.GOOD)
    from ratings.supervision.models import ProviderSnapshot

    db.session.add(ProviderSnapshot(run_id=run_obj.run_id, provider_id=other.id, grade=Grade.EXCELLENT,
                                    active_since=run_obj.active_since, window_start=run_obj.window_start,
                                    window_end=run_obj.window_end, window_days=90, figures={}, breaches=[],
                                    near=[]))
    db.session.commit()
    community = evil.communities[0].id
    html, rows, href = page_and_csv(client, f"/grades?community={community}")
    assert f"community={community}" in href
    assert ids_on(html, "league") == [evil.id]
    assert [r[1] for r in rows[1:]] == [SAFE] and rows[1][2] == "Good (良好)"
    _html, rows, _ = page_and_csv(client, "/grades")
    assert [r[1] for r in rows[1:]] == [other.name, SAFE]


def test_grade_reviews(client, official):
    evil = factories.provider(name=EVIL)
    staff = factories.staff(evil)
    snapshot = store_grade(evil.id, Grade.QUALIFIED, as_of=START - timedelta(days=20))
    db.session.commit()
    asked = grade_reviews.request_review(db.session, staff, evil.id, snapshot.id, "+请复核")
    db.session.commit()
    html, rows, _ = page_and_csv(client, "/official/supervision/grade-reviews")
    assert first_column(rows) == ids_on(html, "grade-review") == [asked.id]
    assert rows[1][1] == SAFE and rows[1][3] == "Qualified (合格)" and rows[1][4] == "'+请复核"


def test_excluded_bookings(client, official):
    provider, listing, resident, _ = serving_provider(name=EVIL)
    late = booking(listing, resident, local(2026, 10, 10, 9), late=True)
    db.session.commit()
    exclusions.exclude(db.session, official, late.id, "force_majeure", "暴雨")
    db.session.commit()
    html, rows, _ = page_and_csv(client, "/official/supervision/exclusions")
    assert first_column(rows) == ids_on(html, "exclusion") == [late.id]
    assert rows[1][2] == SAFE and rows[1][4] == "Force majeure"


def test_complaints(client, official):
    _provider, listing, resident, _ = serving_provider(name=EVIL)
    made = bookings(listing, resident, 3)
    decided = [upheld(b, START - timedelta(days=1)) for b in made[:2]]
    db.session.commit()
    html, rows, href = page_and_csv(client, "/official/complaints?status=upheld")
    assert "status=upheld" in href
    on_page = [int(n) for n in re.findall(r'href="/complaints/(\d+)"', html)]
    assert first_column(rows) == on_page and sorted(on_page) == sorted(c.id for c in decided)
    assert rows[1][3] == SAFE and rows[1][2] == "Upheld" and rows[1][8] == "No"
    _html, rows, _ = page_and_csv(client, "/official/complaints")  # waiting for a decision: none
    assert rows[1:] == []


def test_ratings_every_page(client, official):
    _provider, listing, resident, _ = serving_provider(name=EVIL)
    made = [rate(b, 4) for b in bookings(listing, resident, 22)]
    made[0].hidden_at, made[0].hidden_reason = START, "含个人信息"
    db.session.commit()
    html, rows, href = page_and_csv(client, "/official/ratings?shown=visible")
    assert "shown=visible" in href
    second = client.get("/official/ratings?shown=visible&page=2").get_data(as_text=True)
    assert first_column(rows) == ids_on(html, "rating") + ids_on(second, "rating")
    assert len(rows) - 1 == 21 and len(ids_on(html, "rating")) < 21
    assert rows[1][1] == SAFE and rows[1][-3] == "Published"
    _html, rows, _ = page_and_csv(client, "/official/ratings?shown=hidden")
    assert first_column(rows) == [made[0].id] and rows[1][-3:] == ["Hidden", "2026-11-02 10:00", "含个人信息"]


def test_the_vetting_queue(client, official):
    factories.provider(status=ProviderStatus.PENDING, name=EVIL)
    active = factories.provider()
    html, rows, href = page_and_csv(client, "/official/providers?status=pending")
    assert "status=pending" in href
    names = [a.get_text() for a in BeautifulSoup(html, "html.parser").select("main table a")]
    assert [r[0] for r in rows[1:]] == [SAFE] and names == [EVIL]
    assert rows[1][1] == "Pending review"
    _html, rows, _ = page_and_csv(client, "/official/providers?status=active")
    assert active.name in [r[0] for r in rows[1:]]


def test_anomaly_flags(client, official):
    evil = factories.provider(name=EVIL)
    outside, _ = close_visit(booked(factories.listing(evil)), distances=(900, 0))
    no_place, _ = close_visit(booked(factories.listing()), check_in=None)
    db.session.commit()
    html, rows, href = page_and_csv(client, "/official/flags?rule=outside_radius")
    assert "rule=outside_radius" in href
    assert first_column(rows) == ids_on(html, "flag") and [int(r[3]) for r in rows[1:]] == [outside.id]
    assert rows[1][4] == SAFE
    html, rows, _ = page_and_csv(client, f"/official/flags?provider={no_place.provider_id}")
    assert [int(r[3]) for r in rows[1:]] == [no_place.id]


def test_follow_up_calls(client, official):
    from tests.test_follow_up_calls import queued_visit

    call, _programme, _official = queued_visit()
    call.booking.provider.name = EVIL
    db.session.commit()
    html, rows, _ = page_and_csv(client, "/follow-ups")
    assert first_column(rows) == ids_on(html, "call") == [call.booking_id]
    assert rows[1][2] == SAFE and "*" in rows[1][7]  # the number stays masked


def test_a_run_stored_by_the_evaluator_lists_its_reports(client, official):
    provider, listing, resident, _ = serving_provider(name=EVIL)
    bookings(listing, resident, 50, late=6)
    stored = run_evaluation(db.session, as_of(), trigger="cli").run
    db.session.commit()
    _html, rows, _ = page_and_csv(client, f"/official/supervision/reports?run={stored.id}")
    assert [r[1] for r in rows[1:]] == [SAFE]


def test_a_fine_in_effect_is_in_yuan_with_two_decimals(client, auth, clock):
    from tests.rating_helpers import completed_booking
    from tests.test_supervision_sanctions import make_effective

    listing = factories.listing(factories.provider(name=EVIL), price_fen=12000)
    staff = factories.staff(listing.provider)
    clock.set(local(2026, 10, 5, 8))
    for _ in range(3):
        completed_booking(clock, listing, staff=staff)
        clock.advance(days=1)
    clock.set(local(2026, 11, 2, 10))
    item, _found = make_effective(listing.provider, Sanction.FINE, clock)
    auth.login(factories.official())
    _html, rows, _ = page_and_csv(client, "/official/supervision/dashboard")
    assert first_column(rows) == [item.id]
    assert rows[1][1] == SAFE and rows[1][4] == "18.00" and rows[1][5] == "In effect"
