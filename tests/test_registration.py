"""Provider registration, the provider's dashboard, editing details and resubmission."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.audit import AuditEvent
from app.errors import Conflict
from app.extensions import db
from app.models import Role, SmsMessage, User
from providers import registration
from providers.models import Provider, ProviderStaff, ProviderStatus
from tests import factories
from tests.conftest import PASSWORD
from tests.forms import submit

VALID_CODE = "91350100M000100Y43"  # valid; the wrong codes below are variations of it


@pytest.fixture
def client(client):
    """The pages in English, so the tests can read the messages."""
    client.set_cookie("linli_lang", "en")
    return client


def register_with_code(client, data):
    """Submit the registration form, then the code page with the code the SMS outbox got
    (the phone is proven), each as the page rendered it."""
    sent = submit(client, "/providers/register", fields=data)
    assert sent.status_code == 302 and sent.location.endswith("/providers/register/verify"), sent.status_code
    text = db.session.scalar(sa.select(SmsMessage.body).order_by(SmsMessage.id.desc()).limit(1))
    return submit(client, "/providers/register/verify", action="/providers/register/verify",
                  fields={"code": re.search(r"\d{6}", text).group()})


def form_data(**overrides) -> dict:
    community = overrides.pop("community", None) or factories.community(name="城里社区")
    data = {
        "name": "安康居家养老服务中心",
        "credit_code": factories.credit_code(),
        "legal_representative": "张三",
        "contact_name": "李四",
        "contact_phone": "137 1234 5678",
        "address": "淄川区城里路 1 号",
        "description": "上门助餐、助洁。",
        "category_ids": [factories.category("housekeeping").id, factories.category("repairs").id],
        "community_ids": [community.id],
        "staff_name": "李四",
        "staff_phone": factories.phone(),
        "password": "longenough",
    }
    data.update(overrides)
    return data


def edit_fields(data: dict) -> dict:
    """The registration fields the edit page has (not the owner's account)."""
    return {k: v for k, v in data.items() if k not in ("staff_name", "staff_phone", "password")}


def counts(session) -> tuple[int, int, int, int]:
    """How many providers, users, staff memberships and audit events there are."""
    return tuple(
        session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Provider, User, ProviderStaff, AuditEvent)
    )


def events(session, provider_id: int, action: str | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(
        AuditEvent.object_type == "provider", AuditEvent.object_id == provider_id
    )
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(session.scalars(stmt.order_by(AuditEvent.id)))


# --- registration -------------------------------------------------------------------


def test_registration_form_lists_categories_and_communities(client):
    community = factories.community(name="般阳社区")
    page = client.get("/providers/register")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "般阳社区" in html and f'name="community_ids" value="{community.id}"' in html
    assert "Housekeeping" in html and 'name="category_ids"' in html
    assert 'name="staff_phone"' in html and 'name="password"' in html


def test_registration_creates_a_pending_provider_and_logs_its_owner_in(client, db_session):
    code = factories.credit_code()
    data = form_data(credit_code=f" {code.lower()} ")
    response = register_with_code(client, data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/provider")

    provider = db_session.scalar(sa.select(Provider).where(Provider.credit_code == code))
    assert provider.status == ProviderStatus.PENDING
    assert provider.contact_phone == "13712345678"
    assert sorted(c.code for c in provider.categories) == ["housekeeping", "repairs"]
    assert [c.id for c in provider.communities] == data["community_ids"]
    user = db_session.scalar(sa.select(User).where(User.phone == data["staff_phone"]))
    assert user.role == Role.PROVIDER_STAFF
    membership = db_session.get(ProviderStaff, user.id)
    assert membership.provider_id == provider.id and membership.is_owner
    (event,) = events(db_session, provider.id)
    assert event.action == "provider.registered" and event.actor_id == user.id
    assert event.after["status"] == "pending" and event.after["credit_code"] == code

    dashboard = client.get("/provider")
    assert dashboard.status_code == 200
    html = dashboard.get_data(as_text=True)
    assert "is registered and waits for review" in html
    assert "badge-pending" in html and "Pending review" in html
    assert "安康居家养老服务中心" in html


@pytest.mark.parametrize(
    "code, message",
    [
        (VALID_CODE[:17], "exactly 18 characters"),
        (VALID_CODE[:15] + "O43", "uses only digits and the letters"),
        (VALID_CODE[:17] + "4", "check character does not match"),
    ],
    ids=["length", "characters", "check"],
)
def test_a_wrong_credit_code_is_refused_on_its_field_and_nothing_is_written(
    client, db_session, code, message
):
    data = form_data(credit_code=code)
    before = counts(db_session)
    response = submit(client, "/providers/register", fields=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="credit_code-error"' in html and message in html
    assert counts(db_session) == before
    # The form keeps what was typed (except the password).
    assert "安康居家养老服务中心" in html and "longenough" not in html


def test_a_registered_credit_code_cannot_register_again(client, db_session):
    existing = factories.provider()
    before = counts(db_session)
    response = submit(client, "/providers/register", fields=form_data(credit_code=existing.credit_code))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="credit_code-error"' in html and "already registered" in html
    assert counts(db_session) == before
    assert db_session.get(Provider, existing.id).name != "安康居家养老服务中心"


def test_a_removed_providers_credit_code_may_not_register_again(client, db_session):
    removed = factories.provider(status=ProviderStatus.REMOVED)
    before = counts(db_session)
    response = submit(client, "/providers/register", fields=form_data(credit_code=removed.credit_code))
    assert response.status_code == 422
    assert "may not register again" in response.get_data(as_text=True)
    assert counts(db_session) == before


def test_a_staff_phone_already_in_use_is_refused_and_nothing_is_written(client, db_session):
    resident = factories.resident()
    before = counts(db_session)
    response = submit(client, "/providers/register", fields=form_data(staff_phone=resident.phone))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="staff_phone-error"' in html and "already registered" in html
    assert counts(db_session) == before
    assert client.get("/provider").status_code == 302  # nobody was logged in


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"category_ids": []}, "category_ids", "Choose at least one service category."),
        ({"community_ids": []}, "community_ids", "Choose at least one community you serve."),
        ({"contact_phone": "12345"}, "contact_phone", "11-digit mobile number"),
        ({"staff_phone": "0531-1234"}, "staff_phone", "11-digit mobile number"),
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"name": "  "}, "name", "Enter the organisation"),
        ({"legal_representative": ""}, "legal_representative", "Enter the legal representative."),
        ({"staff_name": ""}, "staff_name", "Enter your name."),
        ({"name": "机" * 121}, "name", "too long"),
        ({"address": "路" * 201}, "address", "too long"),
    ],
)
def test_bad_registration_input_is_shown_on_its_field_and_nothing_is_written(
    client, db_session, overrides, field, message
):
    before = counts(db_session)
    response = submit(client, "/providers/register", fields=form_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html, html[-3000:]
    assert message in html
    assert counts(db_session) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"category_ids": [999999]}, "category_ids"), ({"category_ids": ["cleaning"]}, "category_ids"),
     ({"community_ids": [999999]}, "community_ids")],
)
def test_choices_the_page_does_not_offer_are_refused(client, db_session, overrides, field):
    """Tampered bodies (the page offers no such option), posted raw on purpose."""
    before = counts(db_session)
    response = client.post("/providers/register", data=form_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and "Choose only from the list." in html
    assert counts(db_session) == before


def test_registration_without_a_csrf_token_is_refused(client, db_session, csrf_enabled):
    before = counts(db_session)
    # Deliberately raw: the body lacks the token the page renders.
    response = client.post("/providers/register", data=form_data())
    assert response.status_code == 400
    assert counts(db_session) == before


def test_registration_with_the_pages_csrf_token_works(client, db_session, csrf_enabled):
    data = form_data()
    response = register_with_code(client, data)  # sends the token each page rendered
    assert response.status_code == 302
    assert db_session.scalar(sa.select(User).where(User.phone == data["staff_phone"])) is not None


def test_a_logged_in_user_is_sent_away_from_registration(client, auth):
    staff = factories.staff()
    auth.login(staff)
    assert client.get("/providers/register").headers["Location"].endswith("/provider")
    auth.logout()
    auth.login(factories.resident())
    # The page redirects a logged-in user, so there is no form: the post is hand-made.
    response = client.post("/providers/register", data=form_data())
    assert response.status_code == 302
    assert "Log out first" in client.get("/").get_data(as_text=True)


# --- dashboard ----------------------------------------------------------------------------


def test_dashboard_shows_status_details_and_the_way_to_listings(client, auth):
    provider = factories.provider(status=ProviderStatus.ACTIVE, address="城里路 8 号")
    auth.login(factories.staff(provider))
    html = client.get("/provider").get_data(as_text=True)
    assert "badge-active" in html and "Active" in html
    assert provider.credit_code in html and "城里路 8 号" in html
    assert 'href="/provider/listings"' in html
    assert "Resubmit for review" not in html
    assert 'enctype="multipart/form-data"' in html and "at most 5 MB" in html


def test_only_provider_staff_open_the_dashboard(client, auth):
    assert client.get("/provider").status_code == 302
    auth.login(factories.resident())
    assert client.get("/provider").status_code == 403
    assert client.post("/provider/resubmit").status_code == 403  # access rule: no form for a resident
    assert client.get("/provider/edit").status_code == 403


def test_edit_page_is_prefilled(client, auth):
    provider = factories.provider(status=ProviderStatus.PENDING, categories=["repairs"])
    auth.login(factories.staff(provider))
    html = client.get("/provider/edit").get_data(as_text=True)
    assert f'value="{provider.name}"' in html and f'value="{provider.credit_code}"' in html
    repairs = factories.category("repairs").id
    assert f'name="category_ids" value="{repairs}" checked' in html
    assert f'name="community_ids" value="{provider.communities[0].id}" checked' in html


def test_editing_details_saves_them_with_an_audit_event(client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    staff = factories.staff(provider)
    auth.login(staff)
    data = form_data(community=provider.communities[0], credit_code=provider.credit_code)
    data["name"] = "新名字服务中心"
    response = submit(client, "/provider/edit", fields=edit_fields(data))
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Provider, provider.id).name == "新名字服务中心"
    (event,) = events(db_session, provider.id, "provider.updated")
    assert event.actor_id == staff.id
    assert event.before["name"] != "新名字服务中心" and event.after["name"] == "新名字服务中心"


def test_bad_edits_are_refused_and_change_nothing(client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.ACTIVE)
    auth.login(factories.staff(provider))
    name = provider.name
    base = form_data(community=provider.communities[0])
    del base["credit_code"]  # an approved organisation's edit page shows its code, offers no input
    cases = [
        ({"contact_phone": "abc"}, "contact_phone", "11-digit mobile number"),
        ({"community_ids": []}, "community_ids", "Choose at least one community"),
    ]
    for overrides, field, message in cases:
        response = submit(client, "/provider/edit", fields=edit_fields({**base, **overrides}))
        assert response.status_code == 422, field
        html = response.get_data(as_text=True)
        assert f'id="{field}-error"' in html and message in html, field
    db_session.expire_all()
    assert db_session.get(Provider, provider.id).name == name
    assert events(db_session, provider.id, "provider.updated") == []


def test_an_approved_provider_is_shown_its_credit_code_not_offered_it(client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.ACTIVE)
    auth.login(factories.staff(provider))
    code = provider.credit_code
    page = client.get("/provider/edit").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one("input[name=credit_code]") is None
    assert soup.select_one("#credit-code-fixed code").get_text() == code
    assert "cannot change its credit code" in soup.select_one("#credit-code-fixed").get_text()
    # The form as rendered saves, keeping the code in force.
    response = submit(client, "/provider/edit", fields={"contact_phone": "13712345678"})
    assert response.status_code == 302
    db_session.expire_all()
    stored = db_session.get(Provider, provider.id)
    assert stored.credit_code == code and stored.contact_phone == "13712345678"
    # The service itself refuses the change.
    with pytest.raises(Conflict) as refused:
        registration.update_details(db_session, stored, registration.ProviderDetails(
            name=stored.name, credit_code=factories.credit_code(), legal_representative=stored.legal_representative,
            contact_name=stored.contact_name, contact_phone=stored.contact_phone, address=stored.address,
            description=stored.description, category_ids=[c.id for c in stored.categories],
            community_ids=[c.id for c in stored.communities]), actor=None)
    assert refused.value.field == "credit_code"


def test_a_suspended_provider_cannot_edit_its_details(client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.SUSPENDED, status_reason="投诉过多")
    auth.login(factories.staff(provider))
    assert client.get("/provider/edit").status_code == 302
    # The edit page sends a suspended provider away: the post is hand-made, to test the guard.
    response = client.post("/provider/edit", data=form_data(credit_code=provider.credit_code))
    assert response.status_code == 409
    assert "cannot change its details" in response.get_data(as_text=True)
    assert events(db_session, provider.id) == []
    html = client.get("/provider").get_data(as_text=True)
    assert "投诉过多" in html and "Edit details" not in html


def test_a_rejected_provider_reads_the_reason_fixes_and_resubmits(client, auth, db_session):
    community = factories.community()
    registered = form_data(community=community)
    assert register_with_code(client, registered).status_code == 302
    provider = db_session.scalar(
        sa.select(Provider).where(Provider.credit_code == registered["credit_code"])
    )
    owner = db_session.scalar(sa.select(User).where(User.phone == registered["staff_phone"]))
    official = factories.official()
    auth.logout()
    auth.login(official)
    reason = "营业执照照片不清晰，请补充。"
    response = submit(client, f"/official/providers/{provider.id}", button="Reject",
                      fields={"reason": reason})
    assert response.status_code == 302

    auth.logout()
    auth.login(owner, password="longenough")
    html = client.get("/provider").get_data(as_text=True)
    assert "badge-rejected" in html and reason in html and "Resubmit for review" in html

    data = form_data(community=community, credit_code=provider.credit_code, name="安康养老（更正）")
    assert submit(client, "/provider/edit", fields=edit_fields(data)).status_code == 302
    assert submit(client, "/provider", button="Resubmit for review").status_code == 302
    db_session.expire_all()
    provider = db_session.get(Provider, provider.id)
    assert provider.status == ProviderStatus.PENDING and provider.status_reason is None
    assert provider.name == "安康养老（更正）"
    resubmitted = events(db_session, provider.id, "provider.resubmitted")
    assert [(e.before["status"], e.before["reason"], e.after["status"]) for e in resubmitted] == [
        ("rejected", reason, "pending")
    ]
    assert resubmitted[0].actor_id == owner.id
    assert "Pending review" in client.get("/provider").get_data(as_text=True)

    auth.logout()
    auth.login(official)
    assert "安康养老（更正）" in client.get("/official/providers").get_data(as_text=True)


def test_only_a_rejected_provider_can_resubmit(client, auth, db_session):
    provider = factories.provider(status=ProviderStatus.PENDING)
    auth.login(factories.staff(provider))
    # The dashboard offers no resubmission to a pending provider: a hand-made post.
    response = client.post("/provider/resubmit")
    assert response.status_code == 409
    assert "Only a rejected provider can resubmit" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Provider, provider.id).status == ProviderStatus.PENDING
    assert events(db_session, provider.id) == []


def test_a_registration_racing_another_is_refused_without_a_500(client, db_session, monkeypatch):
    """Two registrations of the same code or phone at once: the database's unique
    constraint catches the second; the view answers 409 and keeps nothing."""

    def racing(*args, **kwargs):
        raise sa.exc.IntegrityError("INSERT INTO provider", {}, Exception("duplicate key"))

    monkeypatch.setattr(registration, "register_provider", racing)
    before = counts(db_session)
    response = submit(client, "/providers/register", fields=form_data())
    assert response.status_code == 409
    assert "registered a moment ago" in response.get_data(as_text=True)
    assert counts(db_session) == before


def test_the_pages_render_in_chinese_by_default(app, db_session):
    chinese = app.test_client()
    assert chinese.get("/providers/register").status_code == 200
    provider = factories.provider(status=ProviderStatus.REJECTED, status_reason="请补充材料")
    submit(chinese, "/login", fields={"phone": factories.staff(provider).phone, "password": PASSWORD})
    for url in ("/provider", "/provider/edit"):
        response = chinese.get(url)
        assert response.status_code == 200 and 'lang="zh-CN"' in response.get_data(as_text=True), url
