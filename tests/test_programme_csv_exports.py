"""CSV downloads of the lists officials work from (programmes, subsidies, billing): every row,
the page's filter, labels not codes, yuan with two decimals, Shanghai times, formula-safe text."""

from __future__ import annotations

import csv
import io

import pytest

from app.extensions import db
from billing.subsidies import review
from tests import factories
from tests import subsidy_helpers as h
from tests.programme_helpers import enrolled_resident, open_programme
from tests.test_programme_settlement import _served, _settle_november

pytestmark = pytest.mark.usefixtures("english_messages")


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_programme_lists(clock, client, auth):
    programme, award, listing, member, official, community = open_programme(budget_fen=100_000,
                                                                            contract_price_fen=6050)
    resident = enrolled_resident(programme, official, community)
    _served(clock, resident, listing, member, 1)
    auth.login(official)
    rows = _rows(client.get("/official/programmes.csv"))
    assert rows[0][:3] == ["Number", "Programme", "Status"]
    mine = next(r for r in rows if r[0] == str(programme.id))
    assert mine[2] == "Open for enrolment and booking" and mine[5] == "1000.00" and mine[8] == "2026-11-02 10:00"  # label, yuan, Shanghai
    enrolments = _rows(client.get(f"/official/programmes/{programme.id}/enrolments.csv"))
    assert enrolments[1][1:4] == [resident.name, "Enrolled", "Enrolled by an official"]
    assert resident.phone not in str(enrolments)  # no more than the page shows
    awards = _rows(client.get(f"/official/programmes/{programme.id}/awards.csv"))
    assert awards[1][1:5] == [award.provider.name, "60.50", "500", "1"]
    uses = _rows(client.get(f"/official/programmes/{programme.id}/entitlements.csv"))
    assert len(uses) == 2 and uses[1][3] == "60.50" and uses[1][4] == "0.00"
    page = client.get(f"/official/programmes/{programme.id}").get_data(as_text=True)
    assert f"/official/programmes/{programme.id}/enrolments.csv" in page
    assert "/official/programmes.csv" in client.get("/official/programmes").get_data(as_text=True)


def test_subsidy_claims_follow_the_filter_and_text_is_formula_safe(clock, client, auth):
    community = factories.community()
    provider = factories.provider(name='=HYPERLINK("http://x","点我")', communities=[community])
    staff = factories.staff(provider)
    first = h.file(provider, staff, h.register(provider, staff, community, title="+快充"), clock=clock)
    second = h.file(provider, staff, h.register(provider, staff, community, title="门禁"), clock=clock)
    district, city = factories.official(), factories.official()
    review.verify(db.session, second.id, official=district)
    review.approve(db.session, second.id, official=city)
    db.session.commit()
    auth.login(city)
    rows = _rows(client.get("/official/subsidies.csv"))
    assert [r[0] for r in rows[1:]] == [str(first.id), str(second.id)]
    assert rows[1][1] == "'" + provider.name and rows[1][2] == "'+快充"
    assert rows[1][7] == "Waiting for district verification" and rows[2][7] != "notice"
    assert rows[1][5].count(".") == 1 and len(rows[1][5].split(".")[1]) == 2
    notice_only = _rows(client.get("/official/subsidies.csv?status=notice"))
    assert [r[0] for r in notice_only[1:]] == [str(second.id)]
    assert client.get("/official/subsidies.csv?status=bogus").status_code == 400
    page = client.get("/official/subsidies?status=notice").get_data(as_text=True)
    assert "/official/subsidies.csv?status=notice" in page
    auth.logout()
    public = _rows(client.get("/subsidies/notices.csv"))  # anyone: what the public notice shows
    assert [r[0] for r in public[1:]] == [str(second.id)] and public[1][3] == "'" + provider.name


def test_billing_lists(clock, client, auth):
    programme, award, listing, member, official, community = open_programme(contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    _served(clock, resident, listing, member, 1)
    _settle_november(clock, award.provider_id)
    auth.login(official)
    settlements = _rows(client.get("/official/settlements/2026-11.csv"))
    line = next(r for r in settlements if r[0] == award.provider.name)
    assert line[1] == "1" and line[2] == "60.00" and line[7] == "60.00" and line[8] in ("To pay", "Paid")
    assert client.get("/official/settlements/2026-13.csv").status_code == 400
    months = _rows(client.get("/official/billing/months.csv"))
    assert months[1][0] == "2026-11"
    balance = _rows(client.get("/official/billing/trial-balance.csv"))
    assert all(r[4] == "OK" for r in balance[1:]) and len(balance) > 2
    statements = _rows(client.get(f"/official/providers/{award.provider_id}/statements.csv"))
    assert statements[1][:4] == ["2026-11", "1", "60.00", "60.00"]
    assert "/official/settlements/2026-11.csv" in client.get("/official/settlements/2026-11").get_data(as_text=True)
