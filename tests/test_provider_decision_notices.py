"""An official's decision on a provider reaches its staff as an in-app notification that
says what happened and what to do next (and a decided change request does too)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.extensions import db
from app.notifications import Notification
from providers.models import ProviderStatus
from tests import factories
from tests.forms import open_page

pytestmark = pytest.mark.usefixtures("english_messages")


class _Read:
    """A notification as its English reader sees it (the message is rendered when read)."""

    def __init__(self, notice: Notification):
        self.kind, self.link = notice.kind, notice.link
        with force_locale("en"):
            self.message = notice.message


def notices_of(user) -> list[_Read]:
    db.session.expire_all()
    return [_Read(n) for n in db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                                 .order_by(Notification.id))]


def decide(client, provider, action: str, reason: str = ""):
    page = open_page(client, f"/official/providers/{provider.id}")
    return page.submit(having={"action": action}, fields={"reason": reason})


@pytest.fixture
def pending(auth):
    provider = factories.provider(status=ProviderStatus.PENDING, name="安心家政")
    owner, colleague = factories.staff(provider), factories.staff(provider, is_owner=False)
    outsider = factories.staff(factories.provider())
    auth.login(factories.official())
    return provider, owner, colleague, outsider


def test_approval_tells_every_staff_member_and_says_what_next(client, pending):
    provider, owner, colleague, outsider = pending
    assert decide(client, provider, "approve").status_code == 302
    for member in (owner, colleague):
        notice, = notices_of(member)
        assert notice.kind == "provider.approved" and notice.link == "/provider"
        assert notice.message == ("The district approved 安心家政. Next: publish a listing so residents can book "
                                  "you; the checklist on your dashboard shows what is left to do.")
    assert notices_of(outsider) == []


def test_a_rejection_gives_the_reason_and_the_way_back(client, pending):
    provider, owner, _colleague, _outsider = pending
    assert decide(client, provider, "reject", "营业执照照片不清晰").status_code == 302
    notice, = notices_of(owner)
    assert notice.kind == "provider.rejected"
    assert "Its reason: “营业执照照片不清晰”" in notice.message and "then resubmit for review" in notice.message


def test_suspension_and_reinstatement_are_notified(client, auth):
    provider = factories.provider(name="安心家政")
    owner = factories.staff(provider)
    auth.login(factories.official())
    assert decide(client, provider, "suspend", "多次投诉").status_code == 302
    assert decide(client, provider, "reinstate", "已整改").status_code == 302
    suspended, reinstated = notices_of(owner)
    assert suspended.kind == "provider.suspended_by_district" and "“多次投诉”" in suspended.message
    assert reinstated.kind == "provider.reinstated" and "Residents can book you again." in reinstated.message


def test_a_refused_decision_notifies_nobody(client, pending):
    provider, owner, _colleague, _outsider = pending
    assert decide(client, provider, "reject", "").status_code == 422  # a rejection needs a reason
    assert notices_of(owner) == []


def test_the_notification_shows_on_the_staff_members_notification_page(client, pending, auth):
    provider, owner, _colleague, _outsider = pending
    decide(client, provider, "approve")
    auth.logout()
    auth.login(owner)
    html = client.get("/notifications").get_data(as_text=True)
    assert "The district approved 安心家政." in html
