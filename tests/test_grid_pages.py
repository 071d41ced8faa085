"""The grid pages as officials and grid workers use them: each test posts the form the
page rendered (tests/rendered_forms.py), the CSV through the page's own file field."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.extensions import db
from app.grids.models import Grid, GridAssignment, Household
from app.models import Role
from tests import factories
from tests.helpers import log_in
from tests.grid_helpers import tree, worker_on
from tests.rendered_forms import submit

pytestmark = pytest.mark.usefixtures("english_messages")


def text(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ", strip=True)


def test_adding_a_grid_shows_every_problem_at_once_and_writes_nothing(client, auth):
    t = tree()
    auth.login(t["official"])
    page = client.get(f"/official/grids/communities/{t['community'].id}")
    assert page.status_code == 200
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Grid))
    answer = submit(client, page, "form[action$='/grids']", code="bad code", name="")
    assert answer.status_code == 422
    summary = BeautifulSoup(answer.get_data(as_text=True), "html.parser").select(".error-summary li")
    assert len(summary) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Grid)) == before
    made = submit(client, client.get(f"/official/grids/communities/{t['community'].id}"), "form[action$='/grids']",
                  code="G7", name="第七网格", parent_id=str(t["grid"].id))
    assert made.status_code == 302
    micro = db.session.scalar(sa.select(Grid).where(Grid.code == "G7"))
    assert micro.parent_id == t["grid"].id


def test_an_official_places_a_resident_in_a_new_household(client, auth):
    t = tree()
    resident = factories.resident(t["community"])
    auth.login(t["official"])
    made = submit(client, client.get(f"/official/grids/{t['other'].id}"), "form[action$='/households']",
                  code="H900", address="幸福路9号")
    assert made.status_code == 302
    page = client.get(made.location)
    added = submit(client, page, "form[action$='/members']", phone=resident.phone)
    assert added.status_code == 302
    db.session.expire_all()
    household = db.session.scalar(sa.select(Household).where(Household.code == "H900"))
    assert resident.household_id == household.id
    again = submit(client, client.get(made.location), "form[action$='/members']", phone=resident.phone)
    assert again.status_code == 409 and "in this household already" in text(again)


def test_a_households_csv_with_a_broken_row_imports_the_others_and_reports_it(client, auth):
    t = tree()
    auth.login(t["official"])
    page = client.get("/official/grids/import")
    assert "community_code, household_code, address, grid_code, micro_grid_code" in text(page)
    template = client.get("/official/grids/import/households-template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    code = t["community"].code
    data = ("\ufeffcommunity_code,household_code,address,grid_code,micro_grid_code\r\n"
            f"{code},H301,三号楼301室,G1,\r\n{code},H302,三号楼302室,G404,\r\n{code},H303,三号楼303室,G2,\r\n")
    answer = submit(client, page, "main form", kind="households",
                    file=(io.BytesIO(data.encode()), "households.csv"))
    assert answer.status_code == 200
    rows = [[td.get_text(strip=True) for td in tr.find_all("td")]
            for tr in BeautifulSoup(answer.get_data(as_text=True), "html.parser").select("table.import-errors tbody tr")]
    assert rows == [["3", "grid_code", "No grid G404 in this community."]]
    codes = set(db.session.scalars(sa.select(Household.code)))
    assert {"H301", "H303"} <= codes and "H302" not in codes


def test_a_file_that_is_not_csv_is_one_message_on_the_file_field(client, auth):
    t = tree()
    auth.login(t["official"])
    answer = submit(client, client.get("/official/grids/import"), "main form", kind="grids",
                    file=(io.BytesIO(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe"), "grids.xlsx"))
    assert answer.status_code == 422
    assert "This is not a CSV file" in text(answer)
    assert len(BeautifulSoup(answer.get_data(as_text=True), "html.parser").select(".error-summary li")) == 1


def test_an_official_assigns_a_grid_worker_who_then_sees_only_her_grids_residents(app, client, auth):
    t = tree()
    worker = factories.user(Role.GRID_WORKER, name="张网格员")
    auth.login(t["official"])
    page = client.get("/official/grid-workers")
    wrong = submit(client, page, "form[action$='/grid-workers']", phone="", valid_from="2026-13-01")
    assert wrong.status_code == 422
    assert len(BeautifulSoup(wrong.get_data(as_text=True), "html.parser").select(".error-summary li")) == 3
    done = submit(client, page, "form[action$='/grid-workers']", phone=worker.phone, grid_id=str(t["grid"].id),
                  valid_from="2026-11-01")
    assert done.status_code == 302
    assert db.session.scalar(sa.select(GridAssignment.user_id)) == worker.id

    other = worker_on(t["other"], t["official"])
    mine, theirs = app.test_client(), app.test_client()
    for c, user in ((mine, worker), (theirs, other)):
        c.set_cookie("linli_lang", "en")
        log_in(c, user.phone, "correct horse 12")
    listing = mine.get("/grid-worker/residents")
    assert listing.status_code == 200
    shown = text(listing)
    assert t["resident"].name in shown and t["resident"].phone not in shown
    assert t["resident"].phone[:3] + "****" + t["resident"].phone[-4:] in shown
    assert mine.get(f"/grid-worker/residents/{t['resident'].id}").status_code == 200
    assert t["resident"].name not in text(theirs.get("/grid-worker/residents"))
    assert theirs.get(f"/grid-worker/residents/{t['resident'].id}").status_code == 404
    assert mine.get("/official/grids").status_code == 403
