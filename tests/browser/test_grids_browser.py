"""Grids in a browser, at phone and desktop size: an official imports a households CSV with
one broken row and reads the report (the other rows are in); a grid worker logs in and sees
only her grid's residents, and another grid's resident is a 404 for her.  The tree is
arranged through the services on the live database."""

from __future__ import annotations


import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests import factories
from tests.browser.arrange import far_factory_numbers
from tests.browser.conftest import ARTIFACTS
from tests.browser.steps import Journey
from tests.conftest import PASSWORD
from tests.grid_helpers import tree, worker_on

_made = {}


def arrange(app, size: str) -> dict:
    far_factory_numbers()  # far from the demo's phones, never another test's
    with app.app_context():
        t = tree()
        other_resident = factories.resident(t["community"], name="陈奶奶")
        from app.grids import services

        far = services.create_household(db.session, t["official"], t["other"], code="H900", address="般阳路18号301室")
        services.add_member(db.session, t["official"], far, other_resident.phone)
        worker = worker_on(t["grid"], t["official"])
        db.session.commit()
        return {"official": t["official"].phone, "worker": worker.phone, "code": t["community"].code,
                "mine": t["resident"].name, "theirs": other_resident.name, "theirs_id": other_resident.id}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_an_official_imports_households_and_a_grid_worker_sees_only_her_grid(browser, live_server, live_app, size):
    world = arrange(live_app, size)
    csv = ("community_code,household_code,address,grid_code,micro_grid_code\r\n"
           f"{world['code']},H201,二号楼201室,G1,\r\n{world['code']},H202,二号楼202室,G404,\r\n"
           f"{world['code']},H203,二号楼203室,G1,G1-A\r\n").encode()
    with Journey(browser, live_server, live_app, "grids-official", "zh", size) as j:
        page = j.page
        j.log_in(world["official"], PASSWORD)
        j.open("/official/grids/import", "import-form")
        page.locator("input[name=kind][value=households]").check()
        page.locator("input[name=file]").set_input_files(
            {"name": "households.csv", "mimeType": "text/csv", "buffer": csv})
        page.locator("main form button[type=submit]").click()
        report = page.locator("table.import-errors tbody tr")
        expect(report).to_have_count(1)
        expect(report.first).to_contain_text("G404")
        expect(report.first.locator("td").first).to_have_text("3")
        j.step("import-report")
        page.screenshot(path=str(ARTIFACTS / f"i15-grids-import-report-{size}.png"), full_page=True)

    with Journey(browser, live_server, live_app, "grids-worker", "zh", size) as j:
        page = j.page
        j.log_in(world["worker"], PASSWORD)
        j.open("/grid-worker/residents", "residents")
        residents = page.locator("#residents")
        expect(residents).to_contain_text(world["mine"])
        expect(residents).not_to_contain_text(world["theirs"])
        expect(residents).to_contain_text("****")
        page.screenshot(path=str(ARTIFACTS / f"i15-grids-worker-residents-{size}.png"), full_page=True)
        answer = page.goto(f"{live_server}/grid-worker/residents/{world['theirs_id']}")
        assert answer.status == 404
