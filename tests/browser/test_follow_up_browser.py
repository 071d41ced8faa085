"""The follow-up queue in a browser: an official opens the queue, shows a resident's phone
number and records "not served"; an evaluator sees only the calls of the programme that
appointed them.  The calls are arranged through the services on the live database."""

from __future__ import annotations


from playwright.sync_api import expect

from app.clock import local
from app.extensions import db
from app.models import Role
from ratings.followups.models import CallOutcome, EvaluatorAppointment, FollowUpCall
from ratings.followups.sampling import sample_month
from tests import factories
from tests.browser import arrange
from tests.browser.steps import Journey
from tests.conftest import PASSWORD
from tests.flag_helpers import programme_visits
from tests.programme_helpers import open_programme


def arrange_calls(app) -> dict:
    """Two programmes with one sampled visit each; an evaluator appointed to the second."""
    # The factories' numbers start far from the demo's phones and credit codes.
    arrange.far_factory_numbers()  # far from the demo's phones, never another test's
    with app.app_context():
        _programme, award, listing, _member, official, _community = open_programme()
        (mine,) = programme_visits(1, listing, award)
        programme2, award2, listing2, *_ = open_programme()
        (theirs,) = programme_visits(1, listing2, award2)
        evaluator = factories.user(Role.EVALUATOR)
        db.session.add(EvaluatorAppointment(programme_id=programme2.id, user_id=evaluator.id,
                                            appointed_by_id=official.id))
        for visit in (mine, theirs):
            sample_month(db.session, local(visit.completed_at).strftime("%Y-%m"))
        db.session.commit()
        return {"official": official.phone, "evaluator": evaluator.phone, "mine": mine.id, "theirs": theirs.id,
                "phone": mine.resident.phone}


def test_an_official_records_not_served_and_an_evaluator_sees_only_their_programme(browser, live_server, live_app):
    world = arrange_calls(live_app)
    with Journey(browser, live_server, live_app, "follow-up-official", "zh", "phone") as j:
        page = j.page
        j.log_in(world["official"], PASSWORD)
        j.open("/follow-ups", "queue")
        card = page.locator(f"#call-{world['mine']}")
        expect(card).not_to_contain_text(world["phone"])
        card.locator("form.inline button").click()
        expect(page.locator(f"#call-{world['mine']} strong.phone")).to_have_text(world["phone"])
        j.step("phone-shown")
        card = page.locator(f"#call-{world['mine']}")
        card.locator("input[value=not_served]").check()
        card.locator("select").select_option("1")
        card.locator("textarea").fill("老人说当天没有人上门")
        card.locator("form.stack button[type=submit]").click()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator(f"#call-{world['mine']}")).to_have_count(0)
        j.step("recorded")
    with live_app.app_context():
        call = db.session.query(FollowUpCall).filter_by(booking_id=world["mine"]).one()
        assert call.outcome == CallOutcome.NOT_SERVED and call.satisfaction == 1

    with Journey(browser, live_server, live_app, "follow-up-evaluator", "zh", "phone") as j:
        j.log_in(world["evaluator"], PASSWORD)
        j.open("/follow-ups", "evaluator-queue")
        expect(j.page.locator(f"#call-{world['theirs']}")).to_be_visible()
        expect(j.page.locator(f"#call-{world['mine']}")).to_have_count(0)
        expect(j.page.locator("main a[href^='/official/']")).to_have_count(0)
