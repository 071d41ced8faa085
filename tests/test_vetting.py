"""Officials vet providers: the queue, one provider's file, decisions and their audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.clock import now
from providers.models import Provider, ProviderStatus
from tests import factories
from tests.forms import open_page, submit
from tests.conftest import PASSWORD


@pytest.fixture
def client(client):
    """The pages in English, so the tests can read the messages."""
    client.set_cookie("linli_lang", "en")
    return client


@pytest.fixture
def official(auth):
    user = factories.official(name="王科长")
    auth.login(user)
    return user


def events(session, provider_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.object_type == "provider", AuditEvent.object_id == provider_id)
            .order_by(AuditEvent.id)
        )
    )


def decide(client, provider, action: str, reason: str = "", page=None):
    """Make the decision on the provider's page, as rendered (or on ``page``, opened earlier)."""
    page = page or open_page(client, f"/official/providers/{provider.id}")
    return page.submit(having={"action": action}, fields={"reason": reason})


def decide_raw(client, provider, action: str, reason: str = ""):
    """A hand-made decision body: for access rules, decisions the page does not offer and
    tampered bodies (each use says which)."""
    return client.post(
        f"/official/providers/{provider.id}/decision", data={"action": action, "reason": reason}
    )


def status_of(session, provider) -> ProviderStatus:
    session.expire_all()
    return session.get(Provider, provider.id).status


# --- access -------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client):
    provider = factories.provider(status=ProviderStatus.PENDING)
    for url in ("/official/providers", f"/official/providers/{provider.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = decide_raw(client, provider, "approve")  # access rule: no page, no form
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("make_user", [factories.resident, factories.staff], ids=["resident", "staff"])
def test_residents_and_provider_staff_cannot_open_official_pages(client, auth, db_session, make_user):
    provider = factories.provider(status=ProviderStatus.PENDING)
    auth.login(make_user())
    assert client.get("/official/providers").status_code == 403
    assert client.get(f"/official/providers/{provider.id}").status_code == 403
    assert decide_raw(client, provider, "approve").status_code == 403  # access rule: no page, no form
    assert status_of(db_session, provider) == ProviderStatus.PENDING
    assert events(db_session, provider.id) == []


def test_an_unknown_provider_or_status_is_not_found(client, official):
    assert client.get("/official/providers/999999").status_code == 404
    # No such provider, so no page: the post is hand-made.
    assert client.post("/official/providers/999999/decision", data={"action": "approve"}).status_code == 404
    assert client.get("/official/providers?status=deleted").status_code == 404


def test_an_admin_can_vet_too(client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    auth.login(factories.admin())
    assert client.get("/official/providers").status_code == 200
    assert decide(client, provider, "approve").status_code == 302
    assert status_of(db_session, provider) == ProviderStatus.ACTIVE


# --- the queue ----------------------------------------------------------------------------


def test_the_queue_shows_pending_providers_oldest_first_with_counts(client, official, clock):
    newer = factories.provider(status=ProviderStatus.PENDING, name="后来的机构")
    older = factories.provider(
        status=ProviderStatus.PENDING, name="早来的机构", submitted_at=now() - timedelta(days=3)
    )
    factories.provider(status=ProviderStatus.ACTIVE, name="已批准的机构")
    response = client.get("/official/providers")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("早来的机构") < html.index("后来的机构")
    assert "已批准的机构" not in html
    assert f'href="/official/providers/{older.id}"' in html and f'href="/official/providers/{newer.id}"' in html
    assert 'aria-current="page">Pending review (' in html


def test_the_queue_filters_by_status(client, official, db_session):
    factories.provider(status=ProviderStatus.PENDING, name="待审机构")
    factories.provider(status=ProviderStatus.SUSPENDED, name="暂停机构", status_reason="投诉")
    html = client.get("/official/providers?status=suspended").get_data(as_text=True)
    assert "暂停机构" in html and "待审机构" not in html
    suspended = db_session.scalar(
        sa.select(sa.func.count()).select_from(Provider).where(Provider.status == "suspended")
    )
    assert f'aria-current="page">Suspended ({suspended})' in html


# --- one provider and decisions -----------------------------------------------------------


def test_the_provider_page_shows_details_decisions_and_the_audit_trail(client, official):
    provider = factories.provider(status=ProviderStatus.PENDING, address="般阳路 3 号")
    html = client.get(f"/official/providers/{provider.id}").get_data(as_text=True)
    assert provider.name in html and provider.credit_code in html and "般阳路 3 号" in html
    assert 'name="action" value="approve"' in html and 'name="action" value="reject"' in html
    assert 'value="suspend"' not in html and 'value="reinstate"' not in html
    assert "Nothing recorded yet." in html


def test_approving_a_pending_provider_records_who_when_and_what(client, official, db_session, clock):
    provider = factories.provider(status=ProviderStatus.PENDING)
    response = decide(client, provider, "approve")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/official/providers/{provider.id}")
    db_session.expire_all()
    provider = db_session.get(Provider, provider.id)
    assert provider.status == ProviderStatus.ACTIVE and provider.activated_at == now()
    (event,) = events(db_session, provider.id)
    assert event.action == "provider.approve" and event.actor_id == official.id and event.at == now()
    assert event.before == {"status": "pending", "reason": None}
    assert event.after == {"status": "active", "reason": None}

    html = client.get(f"/official/providers/{provider.id}").get_data(as_text=True)
    assert "王科长" in html and "Approved" in html and "Pending review → Active" in html
    assert "2026-11-02 10:00" in html  # shown in Shanghai time
    assert 'name="action" value="suspend"' in html


def test_approving_twice_is_refused(client, official, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    page = open_page(client, f"/official/providers/{provider.id}")
    assert decide(client, provider, "approve", page=page).status_code == 302
    response = decide(client, provider, "approve", page=page)  # the same page again (a second tab)
    assert response.status_code == 409
    assert "Only a provider pending review can be approved." in response.get_data(as_text=True)
    assert [e.action for e in events(db_session, provider.id)] == ["provider.approve"]


def test_rejecting_needs_a_reason_and_the_reason_is_kept(client, official, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    response = decide(client, provider, "reject", reason="   ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="reason-reject-error"' in html and "Give a reason" in html
    assert status_of(db_session, provider) == ProviderStatus.PENDING
    assert events(db_session, provider.id) == []

    reason = "缺少服务资质证书。"
    assert decide(client, provider, "reject", reason=reason).status_code == 302
    db_session.expire_all()
    provider = db_session.get(Provider, provider.id)
    assert provider.status == ProviderStatus.REJECTED and provider.status_reason == reason
    (event,) = events(db_session, provider.id)
    assert (event.action, event.reason, event.actor_id) == ("provider.reject", reason, official.id)
    assert event.before["status"] == "pending" and event.after == {"status": "rejected", "reason": reason}
    html = client.get(f"/official/providers/{provider.id}").get_data(as_text=True)
    assert reason in html and "waiting for the provider to fix and resubmit" in html


def test_suspending_and_reinstating_an_active_provider(client, official, db_session):
    provider = factories.provider(status=ProviderStatus.ACTIVE)
    response = decide(client, provider, "suspend")
    assert response.status_code == 422 and "Give a reason" in response.get_data(as_text=True)
    assert decide(client, provider, "suspend", reason="三次迟到投诉").status_code == 302
    assert status_of(db_session, provider) == ProviderStatus.SUSPENDED
    assert decide(client, provider, "reinstate").status_code == 422
    assert decide(client, provider, "reinstate", reason="已整改").status_code == 302
    assert status_of(db_session, provider) == ProviderStatus.ACTIVE
    trail = events(db_session, provider.id)
    assert [(e.action, e.before["status"], e.after["status"], e.reason) for e in trail] == [
        ("provider.suspend", "active", "suspended", "三次迟到投诉"),
        ("provider.reinstate", "suspended", "active", "已整改"),
    ]
    assert all(e.actor_id == official.id for e in trail)


@pytest.mark.parametrize(
    "status, action, message",
    [
        (ProviderStatus.ACTIVE, "reinstate", "Only a suspended provider can be reinstated."),
        (ProviderStatus.ACTIVE, "reject", "Only a provider pending review can be rejected."),
        (ProviderStatus.PENDING, "suspend", "Only an active provider can be suspended."),
        (ProviderStatus.REJECTED, "approve", "Only a provider pending review can be approved."),
        (ProviderStatus.REMOVED, "reinstate", "Only a suspended provider can be reinstated."),
    ],
)
def test_decisions_the_status_does_not_allow_are_refused(
    client, official, db_session, status, action, message
):
    provider = factories.provider(status=status)
    response = decide_raw(client, provider, action, reason="理由")  # the page does not offer it
    assert response.status_code == 409
    assert message in response.get_data(as_text=True)
    assert status_of(db_session, provider) == status
    assert events(db_session, provider.id) == []


def test_an_unknown_decision_is_refused(client, official, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    for action in ("delete", ""):
        response = decide_raw(client, provider, action, reason="x")  # tampered: no such form
        assert response.status_code == 422
        assert "Unknown decision." in response.get_data(as_text=True)
    assert status_of(db_session, provider) == ProviderStatus.PENDING
    assert events(db_session, provider.id) == []


def test_a_too_long_reason_is_refused(client, official, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    response = decide(client, provider, "reject", reason="长" * 2001)
    assert response.status_code == 422 and "too long" in response.get_data(as_text=True)
    assert status_of(db_session, provider) == ProviderStatus.PENDING


def test_a_decision_without_the_csrf_token_is_refused(client, official, db_session, csrf_enabled):
    provider = factories.provider(status=ProviderStatus.PENDING)
    assert decide_raw(client, provider, "approve").status_code == 400  # deliberately without the token
    assert status_of(db_session, provider) == ProviderStatus.PENDING
    assert events(db_session, provider.id) == []


def test_official_pages_render_in_chinese_by_default(app, db_session):
    chinese = app.test_client()
    official = factories.official()
    provider = factories.provider(status=ProviderStatus.PENDING)
    submit(chinese, "/login", fields={"phone": official.phone, "password": PASSWORD})
    decide(chinese, provider, "reject", reason="材料不全")
    for url in ("/official/providers", f"/official/providers/{provider.id}"):
        response = chinese.get(url)
        assert response.status_code == 200 and 'lang="zh-CN"' in response.get_data(as_text=True), url
    assert "材料不全" in chinese.get(f"/official/providers/{provider.id}").get_data(as_text=True)
