"""Publication of rule-set versions: drafts, the comment period, effect dates, withdrawal,
comments, and the public /rules page (rendered forms submitted as a browser would)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from ratings.supervision import publication, rules
from ratings.supervision.dueprocess_models import RuleComment
from ratings.supervision.models import Publication, RuleSet
from tests import factories
from tests.conftest import START
from tests.forms import open_page, submit
from tests.helpers import count
from tests.rating_helpers import audit_events
from tests.supervision_helpers import as_of


def draft(official=None, **changes):
    return publication.create_draft(db.session, official or factories.official(),
                                    changes or {"late_rate_percent": "15"}, "放宽迟到率")


def test_a_new_version_is_a_draft_that_applies_to_nothing(clock):
    v2 = draft()
    assert v2.publication == Publication.DRAFT and v2.effective_from is None
    clock.advance(days=400)
    assert rules.current(db.session).version == 1
    assert rules.for_period(db.session, as_of(date(2028, 1, 1))).version == 1
    assert audit_events("supervision.rule_set.version", v2.id)


def test_publishing_opens_the_comment_period_and_sets_the_effective_date(clock):
    official = factories.official()
    v2 = publication.publish(db.session, official, draft(official).id)
    assert v2.published_at == START and v2.comment_until == START + timedelta(days=30)
    assert v2.effective_from == v2.comment_until
    assert rules.current(db.session).version == 1  # announced, not in force
    clock.advance(days=30)
    assert rules.current(db.session).version == 2
    event, = audit_events("supervision.rule_set.publish", v2.id)
    assert event.actor_id == official.id and event.after["version"] == 2


def test_the_effective_date_is_never_inside_the_comment_period():
    official = factories.official()
    v2 = draft(official)
    with pytest.raises(Invalid) as early:
        publication.publish(db.session, official, v2.id, effective_on="2026-11-20")
    assert early.value.field == "effective_on"
    with pytest.raises(Invalid) as short:
        publication.publish(db.session, official, v2.id, days="7")
    assert short.value.field == "days"
    with pytest.raises(Invalid) as nonsense:
        publication.publish(db.session, official, v2.id, effective_on="next week")
    assert nonsense.value.field == "effective_on"
    assert db.session.get(RuleSet, v2.id).publication == Publication.DRAFT  # nothing changed
    later = publication.publish(db.session, official, v2.id, days="45", effective_on="2027-02-01")
    assert later.comment_until == START + timedelta(days=45)
    assert later.effective_from.isoformat() == "2027-01-31T16:00:00+00:00"  # local midnight, Shanghai
    with pytest.raises(Conflict):
        publication.publish(db.session, official, v2.id)


def test_a_version_never_applies_to_a_period_before_its_effective_date(clock):
    official = factories.official()
    v2 = publication.publish(db.session, official, draft(official, window_days=30).id)  # in force 2026-12-02
    assert rules.in_force(db.session, v2.effective_from - timedelta(seconds=1)).version == 1
    assert rules.in_force(db.session, v2.effective_from).version == 2
    # As of 2027-01-01 the 30-day window starts 2026-12-02 00:00 local, before 10:00 local: not yet.
    assert rules.for_period(db.session, as_of(date(2027, 1, 1))).version == 1
    assert rules.for_period(db.session, as_of(date(2027, 1, 2))).version == 2


def test_withdrawal_before_effect_and_never_after(clock):
    official = factories.official()
    kept_draft = draft(official)
    publication.withdraw(db.session, official, kept_draft.id, "改主意了")
    assert kept_draft.publication == Publication.WITHDRAWN
    announced = publication.publish(db.session, official, draft(official, window_days=60).id)
    with pytest.raises(Invalid) as no_reason:
        publication.withdraw(db.session, official, announced.id, " ")
    assert no_reason.value.field == "reason"
    publication.withdraw(db.session, official, announced.id, "征求意见后撤回")
    clock.advance(days=200)
    assert rules.current(db.session).version == 1  # a withdrawn version never applies
    in_force = publication.publish(db.session, official, draft(official, window_days=45).id)
    clock.advance(days=31)
    assert rules.current(db.session).id == in_force.id
    with pytest.raises(Conflict):
        publication.withdraw(db.session, official, in_force.id, "太晚了")
    with pytest.raises(Forbidden):
        publication.withdraw(db.session, factories.resident(), in_force.id, "我来撤")
    assert len(audit_events("supervision.rule_set.withdraw")) == 2


def test_comments_only_during_the_comment_period(clock):
    official = factories.official()
    provider = factories.provider()
    staff = factories.staff(provider)
    v2 = draft(official)
    with pytest.raises(Conflict):
        publication.comment(db.session, staff, v2.id, "草稿还不能评论")
    publication.publish(db.session, official, v2.id)
    with pytest.raises(Invalid) as empty:
        publication.comment(db.session, staff, v2.id, "  ")
    assert empty.value.field == "body"
    made = publication.comment(db.session, staff, v2.id, "15% 仍然太严")
    assert [c.body for c in publication.comments(db.session, v2.id)] == ["15% 仍然太严"]
    assert audit_events("supervision.rule_set.comment", made.id)
    clock.advance(days=30)
    with pytest.raises(Conflict):
        publication.comment(db.session, staff, v2.id, "过期了")
    assert count(RuleComment) == 1


def test_the_migration_backfilled_version_1_as_published():
    v1 = rules.get_version(db.session, 1)
    assert v1.publication == Publication.PUBLISHED
    assert v1.published_at == v1.comment_until == v1.effective_from == v1.created_at


def test_the_database_refuses_a_published_version_without_its_dates():
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(sa.update(RuleSet).where(RuleSet.version == 1).values(comment_until=None))


# --- Pages ---------------------------------------------------------------------------------


def test_a_visitor_reads_every_rule_and_the_announced_change(client, en):
    official = factories.official()
    publication.publish(db.session, official, draft(official, late_rate_percent="12.5").id)
    db.session.commit()
    page = client.get("/rules")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "In force: version 1" in text and "above 10 % and at least 5" in text
    assert "at least 3" in text and "below 3.5 with at least 10 ratings" in text
    assert "the last 90 whole days" in text and "Suspension for 30 days" in text
    assert 'id="announced-2"' in text and "2026-12-02 10:00" in text  # the comment deadline
    assert 'id="change-2-late_rate_percent"' in text and "12.5" in text
    assert "Log in to comment." in text and 'id="version-1"' in text


def test_a_provider_comments_through_the_rendered_form(client, auth, en):
    official = factories.official()
    v2 = publication.publish(db.session, official, draft(official).id)
    staff = factories.staff(factories.provider())
    db.session.commit()
    auth.login(staff)
    action = f"/rules/{v2.id}/comments"
    refused = submit(client, "/rules", action=action, fields={"body": ""})
    assert refused.status_code == 422 and "Write your comment." in refused.get_data(as_text=True)
    ok = submit(client, "/rules", action=action, fields={"body": "请给服务商更多时间"})
    assert ok.status_code == 302
    assert [c.body for c in publication.comments(db.session, v2.id)] == ["请给服务商更多时间"]


def test_an_official_publishes_and_withdraws_through_the_pages(client, auth, en):
    official = factories.official()
    v2 = draft(official)
    db.session.commit()
    auth.login(official)
    url = f"/official/supervision/rules/{v2.id}"
    early = submit(client, url, action=f"{url}/publish", fields={"effective_on": "2026-11-05"})
    assert early.status_code == 422 and "only after its comment period" in early.get_data(as_text=True)
    assert submit(client, url, action=f"{url}/publish", fields={}).status_code == 302
    assert db.session.get(RuleSet, v2.id).publication == Publication.PUBLISHED
    page = open_page(client, url)
    assert "Publish" not in page.buttons()
    assert page.form(action=f"{url}/withdraw").submit(fields={"reason": "撤回"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(RuleSet, v2.id).publication == Publication.WITHDRAWN
    assert client.get("/official/supervision/rules/999999").status_code == 404
