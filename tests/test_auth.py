"""Accounts: sign-up, log-in, throttling, sessions, passwords."""

import re

from urllib.parse import quote

import sqlalchemy as sa

from app.models import LoginAttempt, Role, SmsMessage, User
from tests import factories
from tests.conftest import PASSWORD
from tests.forms import open_page, submit


def log_in(client, phone: str, password: str):
    return submit(client, "/login", fields={"phone": phone, "password": password})


def test_resident_signs_up_into_a_community_and_is_logged_in(client, db_session):
    community = factories.community(name="城里社区")
    response = submit(
        client, "/signup",
        fields={"name": "王阿姨", "phone": "138 0013 8000", "password": "longenough", "community": community.id},
    )
    assert response.status_code == 302 and response.location.endswith("/signup/verify")
    text = db_session.scalar(sa.select(SmsMessage.body).where(SmsMessage.phone == "13800138000"))
    code = re.search(r"\d{6}", text).group()
    assert client.post("/signup/verify", data={"code": code}).status_code == 302
    user = db_session.scalar(sa.select(User).where(User.phone == "13800138000"))
    assert user.role == Role.RESIDENT and user.community_id == community.id
    assert user.password_hash.startswith("$argon2id$")
    assert client.get("/account").status_code == 200


def test_signup_with_a_taken_phone_is_refused_and_changes_nothing(client, db_session):
    existing = factories.resident()
    before = db_session.scalar(sa.select(sa.func.count()).select_from(User))
    response = submit(
        client, "/signup",
        fields={"name": "新用户", "phone": existing.phone, "password": "longenough", "community": existing.community_id},
    )
    assert response.status_code == 422
    assert "already registered" in response.get_data(as_text=True) or "已注册" in response.get_data(as_text=True)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_signup_rejects_bad_phone_short_password_and_missing_community(client, db_session):
    community = factories.community()
    cases = [
        ({"phone": "12345", "password": "longenough", "community": community.id}, "phone"),
        ({"phone": "13900000001", "password": "short", "community": community.id}, "password"),
        ({"phone": "13900000002", "password": "longenough", "community": 0}, "community"),
    ]
    for data, field in cases:
        response = submit(client, "/signup", fields={"name": "x", **data})
        assert response.status_code == 422, field
        assert f'id="{field}-error"' in response.get_data(as_text=True), field
    # A community the page does not offer: a tampered body, posted raw on purpose.
    response = client.post("/signup", data={"name": "x", "phone": "13900000003", "password": "longenough",
                                            "community": 999999})
    assert response.status_code == 422 and 'id="community-error"' in response.get_data(as_text=True)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User).where(User.name == "x")) == 0


def test_login_with_wrong_password_fails_with_a_message(client):
    user = factories.resident()
    response = log_in(client, user.phone, "wrong")
    assert response.status_code == 422
    assert client.get("/account").status_code == 302


def test_login_is_throttled_after_repeated_failures_then_frees_up(client, clock):
    user = factories.resident()
    for _ in range(5):
        assert log_in(client, user.phone, "wrong").status_code == 422
    blocked = log_in(client, user.phone, PASSWORD)
    assert blocked.status_code == 429
    clock.advance(minutes=16)
    assert log_in(client, user.phone, PASSWORD).status_code == 302


def test_failed_attempts_are_recorded(client, db_session):
    user = factories.resident()
    log_in(client, user.phone, "wrong")
    attempts = db_session.scalars(sa.select(LoginAttempt).where(LoginAttempt.phone == user.phone)).all()
    assert [a.succeeded for a in attempts] == [False]


def test_next_redirects_only_within_the_site(client):
    user = factories.resident()
    for target, expected in [
        ("/account", "/account"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        response = submit(client, f"/login?next={quote(target)}", action="/login",
                          fields={"phone": user.phone, "password": PASSWORD})
        assert response.headers["Location"] == expected, target
        submit(client, "/account", action="/logout")
        client.delete_cookie("session")


def test_logout_invalidates_the_old_session_cookie(app, auth, client):
    user = factories.resident()
    auth.login(user)
    stolen = client.get_cookie("session").value
    auth.logout()
    other = app.test_client()
    other.set_cookie("session", stolen)
    assert other.get("/account").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(app, auth, client):
    user = factories.resident()
    auth.login(user)
    other = app.test_client()
    Auth2 = type(auth)
    Auth2(other).login(user)
    response = submit(client, "/account", action="/account/password",
                      fields={"current_password": PASSWORD, "new_password": "a new password"})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302


def test_login_starts_a_new_session(client):
    user = factories.resident()
    page = open_page(client, "/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    page.submit(fields={"phone": user.phone, "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session


def test_production_password_hashing_meets_owasp_minimum():
    from app.config import load_config

    config = load_config({"LINLI_INSTANCE_DIR": "/tmp/linli-config-test"})
    # OWASP: argon2id with at least 19 MiB memory and 2 iterations.
    assert config["ARGON2_MEMORY_COST_KIB"] >= 19 * 1024
    assert config["ARGON2_TIME_COST"] >= 2


def test_missing_csrf_token_is_refused(client, csrf_enabled, db_session):
    community = factories.community()
    # Deliberately raw: the body lacks the token the page renders.
    response = client.post(
        "/signup", data={"name": "x", "phone": "13900000009", "password": "longenough", "community": community.id}
    )
    assert response.status_code == 400
    assert db_session.scalar(sa.select(User).where(User.phone == "13900000009")) is None


def test_healthz_answers_when_the_database_is_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["database"] is True


def test_security_headers_and_cookie_flags(client):
    user = factories.resident()
    response = log_in(client, user.phone, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
