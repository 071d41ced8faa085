"""Issue 12 item 4 for the provider registration: its first staff account is made only once the
code sent to that phone comes back; common passwords and the limits apply there too."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import PhoneCode, SmsMessage, User
from providers.models import Provider, ProviderStaff
from tests import factories
from tests.rendered_forms import submit
from tests.test_accounts_security import last_code

STAFF_PHONE = "13711112222"


def fill(en, **typed):
    community = factories.community(name="城里社区")
    page = en.get("/providers/register")
    values = {
        "name": "安康居家养老服务中心", "credit_code": factories.credit_code(), "legal_representative": "张三",
        "contact_name": "李四", "contact_phone": "137 1234 5678", "staff_name": "李四",
        "staff_phone": STAFF_PHONE, "password": "tea garden 1987",
    }
    values.update(typed)
    answer = submit(en, page, "main form.stack", **values,
                    category_ids=str(factories.category("housekeeping").id), community_ids=str(community.id))
    return answer, values


def rows() -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Provider, User, ProviderStaff))


def test_the_organisation_and_its_account_wait_for_the_code_sent_to_the_staff_phone(en):
    before = rows()
    answer, values = fill(en)
    assert answer.status_code == 302 and answer.location.endswith("/providers/register/verify")
    assert rows() == before  # nothing registered yet
    code = last_code(STAFF_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    refused = submit(en, en.get("/providers/register/verify"), "main form.stack", code=wrong)
    assert refused.status_code == 422 and "The code is not right. 4 tries left." in refused.get_data(as_text=True)
    assert rows() == before
    done = submit(en, en.get("/providers/register/verify"), "main form.stack", code=code)
    assert done.status_code == 302 and done.location.endswith("/provider")
    provider = db.session.scalar(sa.select(Provider).where(Provider.credit_code == values["credit_code"]))
    staff = db.session.scalar(sa.select(User).where(User.phone == STAFF_PHONE))
    assert provider is not None and staff is not None and staff.password_hash.startswith("$argon2id$")
    assert "is registered and waits for review" in en.get("/provider").get_data(as_text=True)
    assert db.session.scalar(sa.select(PhoneCode.payload).where(PhoneCode.phone == STAFF_PHONE)) is None


def test_a_refused_registration_sends_no_code(en):
    texts = db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage))
    for typed, message in (({"password": "password1"}, "most common passwords"),
                           ({"password": STAFF_PHONE}, "must not be or contain your phone number"),
                           ({"credit_code": "123"}, "exactly 18 characters")):
        answer, _values = fill(en, **typed)
        assert answer.status_code == 422 and message in answer.get_data(as_text=True), typed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == texts
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneCode)) == 0


def test_registrations_count_toward_the_address_limit(en, app):
    saved = app.config["SIGNUP_MAX_PER_IP"]
    app.config["SIGNUP_MAX_PER_IP"] = 1
    try:
        assert fill(en)[0].status_code == 302
        again, _ = fill(en, staff_phone="13711113333")
        assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    finally:
        app.config["SIGNUP_MAX_PER_IP"] = saved
