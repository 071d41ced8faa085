"""Issue 15, account recovery: a reset by SMS code (10 minutes, 5 tries, once, throttled, no
account enumeration), a reset by a grid worker or an official after a recorded identity check
(temporary password on paper, replaced at the first log-in), and the lockout message."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.auth import recovery
from app.delivery.channels import AliyunSms
from app.delivery.models import OutboxMessage
from app.delivery.outbox import deliver_due
from app.errors import Invalid
from app.extensions import db
from app.grids import services as grid_services
from app.grids import workers as grid_workers
from app.models import CodePurpose, PhoneCode, Role, SmsMessage, User
from app.passwords import verify_password
from tests import factories
from tests.helpers import log_in
from tests.conftest import PASSWORD
from tests.rendered_forms import submit
from tests.sms_stub import aliyun_stub

pytestmark = pytest.mark.usefixtures("english_messages")

NEW = "blue kettle morning 42"


def reset_codes(phone: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(
        OutboxMessage.recipient == phone, OutboxMessage.template == "password_reset_code")
        .order_by(OutboxMessage.id)))


def last_reset_code(phone: str) -> str:
    """The code as the phone got it (the embedded channel's text), or, not sent yet, as queued;
    once sent the outbox keeps it masked (nobody reads it there)."""
    rows = reset_codes(phone)
    assert rows, f"no reset code for {phone}"
    if rows[-1].params["code"] != "••••••":
        return rows[-1].params["code"]
    body = db.session.scalar(sa.select(SmsMessage.body).where(SmsMessage.phone == phone)
                             .order_by(SmsMessage.id.desc()).limit(1))
    return re.search(r"\d{6}", body).group(0)


def _english_client(app):
    client = app.test_client()
    client.set_cookie("linli_lang", "en")
    return client


def ask(client, phone: str, **environ):
    page = client.get("/password/forgot")
    return submit(client, page, "main form.stack", phone=phone)


def reset(client, **typed):
    return submit(client, client.get("/password/reset"), "main form.stack", **typed)


def text(response) -> str:
    return response.get_data(as_text=True)


def password_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).password_hash


@pytest.fixture
def limits(app):
    saved = dict(app.config)
    yield app.config
    app.config.clear()
    app.config.update(saved)


# --- by SMS code -----------------------------------------------------------------------------


def test_a_resident_resets_her_password_with_the_code_and_is_logged_in(app, en, db_session):
    user = factories.resident()
    other = _english_client(app)
    assert log_in(other, user.phone, PASSWORD).status_code == 302
    sent = ask(en, user.phone)
    assert sent.status_code == 302 and sent.location.endswith("/password/reset")
    (message,) = reset_codes(user.phone)
    assert message.urgent and set(message.params) == {"code"} and re.fullmatch(r"\d{6}", last_reset_code(user.phone))
    assert message.params["code"] == "••••••"  # sent at once, and the outbox keeps no copy of the code
    done = reset(en, code=last_reset_code(user.phone), new_password=NEW, confirm_password=NEW)
    assert done.status_code == 302
    assert en.get("/account").status_code == 200  # logged in
    assert other.get("/account").status_code in (302, 401)  # the other session ended
    assert verify_password(password_of(user.id), NEW)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.password_reset"))
    assert event.object_id == user.id and event.after["method"] == "sms_code"
    # The embedded channel got the text (what the phone shows).
    sms = db.session.scalar(sa.select(SmsMessage.body).where(SmsMessage.phone == user.phone))
    assert last_reset_code(user.phone) in sms


def test_the_code_expires_after_ten_minutes(en, db_session, clock):
    user = factories.resident()
    ask(en, user.phone)
    code = last_reset_code(user.phone)
    clock.advance(minutes=10)
    refused = reset(en, code=code, new_password=NEW, confirm_password=NEW)
    assert refused.status_code == 422 and "The code has expired. Ask for a new one." in text(refused)
    assert verify_password(password_of(user.id), PASSWORD)


def test_the_code_works_just_before_ten_minutes(en, db_session, clock):
    user = factories.resident()
    ask(en, user.phone)
    clock.advance(minutes=9, seconds=59)
    assert reset(en, code=last_reset_code(user.phone), new_password=NEW, confirm_password=NEW).status_code == 302


def test_five_wrong_codes_lock_the_code_and_the_sixth_try_is_refused_clearly(en, db_session):
    user = factories.resident()
    ask(en, user.phone)
    code = last_reset_code(user.phone)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        answer = reset(en, code=wrong, new_password=NEW, confirm_password=NEW)
        assert answer.status_code == 422 and f"The code is not right. {left} tries left." in text(answer)
    fifth = reset(en, code=wrong, new_password=NEW, confirm_password=NEW)
    assert "Too many wrong codes. Ask for a new one." in text(fifth)
    sixth = reset(en, code=code, new_password=NEW, confirm_password=NEW)
    assert sixth.status_code == 422 and "Too many wrong codes. Ask for a new one." in text(sixth)
    assert verify_password(password_of(user.id), PASSWORD)


def test_a_code_works_once(app, db_session):
    user = factories.resident()
    row = recovery.start_reset(db.session, phone=user.phone, ip="198.51.100.1")
    code = last_reset_code(user.phone)
    recovery.reset_with_code(db.session, row.id, code=code, new=NEW, confirm=NEW)
    with pytest.raises(Invalid) as refused:
        recovery.reset_with_code(db.session, row.id, code=code, new="another good one 7", confirm="another good one 7")
    assert "This code has been used already" in str(refused.value)
    assert verify_password(password_of(user.id), NEW)


def test_every_problem_at_once_and_nothing_changed(en, db_session):
    user = factories.resident()
    ask(en, user.phone)
    refused = reset(en, code="12", new_password="short", confirm_password="shorter")
    page = text(refused)
    assert refused.status_code == 422
    assert "There are 3 problems with what you sent" in page
    assert "Enter the 6 digits of the code from the SMS." in page
    assert "The password must have at least 8 characters." in page
    assert "The two passwords are not the same." in page
    weak = reset(en, code=last_reset_code(user.phone), new_password="password", confirm_password="password")
    assert weak.status_code == 422 and "most common passwords" in text(weak)
    assert verify_password(password_of(user.id), PASSWORD)


def test_codes_are_throttled_per_phone(en, db_session, limits):
    limits["PHONE_CODES_PER_PHONE"] = 3
    user = factories.resident()
    for _ in range(3):
        assert ask(en, user.phone).status_code == 302
    refused = ask(en, user.phone)
    assert refused.status_code == 429 and "Too many codes were asked for" in text(refused)
    assert len(reset_codes(user.phone)) == 3


def test_codes_are_throttled_per_address_across_phones(app, db_session, limits):
    limits["SIGNUP_MAX_PER_IP"] = 2
    client = _english_client(app)
    for phone in ("13911110001", "13911110002"):
        assert ask(client, phone).status_code == 302
    assert ask(client, "13911110003").status_code == 429


def test_the_answer_does_not_tell_whether_the_phone_has_an_account(app, db_session):
    user = factories.resident()
    known, unknown = _english_client(app), _english_client(app)
    a = known.get(ask(known, user.phone).location)
    b = unknown.get(ask(unknown, "13922223333").location)
    strip = lambda html: re.sub(r"1\d{10}|1\d\d\*{4}\d{4}|csrf_token[^>]*", "", html)  # noqa: E731
    assert a.status_code == b.status_code == 200
    assert strip(text(a)) == strip(text(b))
    assert reset_codes("13922223333") == []  # no SMS to a phone without an account
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneCode).where(
        PhoneCode.phone == "13922223333", PhoneCode.purpose == CodePurpose.RESET)) == 1  # counted the same
    wrong_known = reset(known, code="123456", new_password=NEW, confirm_password=NEW)
    wrong_unknown = reset(unknown, code="123456", new_password=NEW, confirm_password=NEW)
    assert wrong_known.status_code == wrong_unknown.status_code == 422


def test_the_code_reaches_aliyun_with_its_template_and_chinese(app, db_session, clock):
    user = factories.resident()
    row = recovery.start_reset(db.session, phone=user.phone, ip="198.51.100.2")
    code = last_reset_code(user.phone)
    assert row.purpose == CodePurpose.RESET
    config = {**app.config, "ALIYUN_ACCESS_KEY_ID": "LTAI-test", "ALIYUN_ACCESS_KEY_SECRET": "secret",
              "ALIYUN_SMS_PROTOCOL": "http", "ALIYUN_SMS_SIGN_NAME": "邻里", "ALIYUN_TIMEOUT_MS": 3000,
              "ALIYUN_SMS_TEMPLATES": {"password_reset_code": {"zh": "SMS_490001", "en": "SMS_490002"}}}
    with aliyun_stub() as stub:
        tally = deliver_due(db_session, clock=clock.now,
                            transports_by_channel={"sms": AliyunSms({**config, "ALIYUN_SMS_ENDPOINT": stub.endpoint})})
    assert tally.sent == 1
    (request,) = stub.requests
    assert (request["PhoneNumbers"], request["TemplateCode"]) == (user.phone, "SMS_490001")
    assert json.loads(request["TemplateParam"]) == {"code": code}
    sent = reset_codes(user.phone)[-1]
    assert sent.language == "zh" and "您的密码重置验证码是 ••••••" in sent.rendered  # Aliyun's Chinese text, kept masked
    assert code not in sent.rendered and sent.params == {"code": "••••••"}


# --- the lockout ------------------------------------------------------------------------------


def test_a_locked_out_user_is_told_how_long_and_how_to_get_back_in(app, en, db_session):
    user = factories.resident()
    attacker = _english_client(app)
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(5):
        log_in(attacker, user.phone, "guess guess 1")
    blocked = submit(en, en.get("/login"), "main form.stack", phone=user.phone, password=PASSWORD)
    page = text(blocked)
    assert blocked.status_code == 429
    assert "Locked after too many wrong passwords: you can try again in about 15 minutes" in page
    assert "reset your password with a code by SMS, or ask your grid worker for help" in page
    assert 'href="/password/forgot"' in page


# --- by a grid worker or an official --------------------------------------------------------


@pytest.fixture
def grid_world(db_session):
    official = factories.official()
    home = factories.community()
    grid = grid_services.create_grid(db.session, official, home, code="G1", name="第一网格")
    other_grid = grid_services.create_grid(db.session, official, home, code="G2", name="第二网格")
    resident = factories.resident(home)
    outsider = factories.resident(home)
    household = grid_services.create_household(db.session, official, grid, code="H1", address="般阳路1号")
    grid_services.add_member(db.session, official, household, resident.phone)
    elsewhere = grid_services.create_household(db.session, official, other_grid, code="H2", address="般阳路2号")
    grid_services.add_member(db.session, official, elsewhere, outsider.phone)
    worker = factories.user(Role.GRID_WORKER)
    grid_workers.assign(db.session, official, phone=worker.phone, grid_id=grid.id,
                        valid_from=(factories_now() - timedelta(days=30)).date(), valid_until=None)
    db.session.commit()
    return {"official": official, "resident": resident, "outsider": outsider, "worker": worker}


def factories_now():
    from app.clock import now

    return now()


def test_a_grid_worker_resets_after_an_id_check_recorded_in_the_audit(app, en, grid_world):
    worker, resident = grid_world["worker"], grid_world["resident"]
    log_in(en, worker.phone, PASSWORD)
    url = f"/grid-worker/residents/{resident.id}/password-reset"
    refused = submit(en, en.get(url), "main form.stack", method="in_person_id", id_last4="12")
    assert refused.status_code == 422 and "last 4 characters of the ID number" in text(refused)
    assert verify_password(password_of(resident.id), PASSWORD)
    slip = submit(en, en.get(url), "main form.stack", method="in_person_id", id_last4="123x", note="本人持身份证到社区")
    assert slip.status_code == 200
    temporary = re.search(r'id="temporary-password">([^<]+)<', text(slip)).group(1).replace(" ", "")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.password_reset_assisted"))
    assert (event.actor_id, event.object_id) == (worker.id, resident.id)
    assert event.after["method"] == "in_person_id" and event.after["id_last4"] == "123X"
    assert event.reason == "本人持身份证到社区"
    # The resident logs in with it and must choose her own password before anything else.
    her = _english_client(app)
    assert log_in(her, resident.phone, temporary).status_code == 302
    sent_there = her.get("/bookings")
    assert sent_there.status_code == 302 and sent_there.location.endswith("/account/new-password")
    page = her.get("/account/new-password")
    mismatch = submit(her, page, "main form.stack", new_password=NEW, confirm_password=NEW + "x")
    assert mismatch.status_code == 422 and "The two passwords are not the same." in text(mismatch)
    done = submit(her, her.get("/account/new-password"), "main form.stack", new_password=NEW, confirm_password=NEW)
    assert done.status_code == 302
    assert her.get("/account").status_code == 200
    assert db.session.get(User, resident.id).temporary_password_until is None
    assert not verify_password(password_of(resident.id), temporary)


def test_a_call_back_needs_a_note(app, en, grid_world):
    log_in(en, grid_world["worker"].phone, PASSWORD)
    url = f"/grid-worker/residents/{grid_world['resident'].id}/password-reset"
    refused = submit(en, en.get(url), "main form.stack", method="phone_call_back", note="")
    assert refused.status_code == 422 and "Write down whom you spoke with" in text(refused)
    none = submit(en, en.get(url), "main form.stack", note="x" * 501)
    assert "Choose how you checked who the resident is." in text(none) and "The note is too long" in text(none)


def test_a_grid_worker_cannot_reset_outside_her_grids(app, en, grid_world):
    log_in(en, grid_world["worker"].phone, PASSWORD)
    outsider = grid_world["outsider"]
    assert en.get(f"/grid-worker/residents/{outsider.id}/password-reset").status_code == 404
    # No page offers this form for her (404 above): the post is a tampered one, raw on purpose.
    assert en.post(f"/grid-worker/residents/{outsider.id}/password-reset",
                   data={"method": "in_person_id", "id_last4": "1234"}).status_code == 404
    assert en.get(f"/grid-worker/residents/{grid_world['official'].id}/password-reset").status_code == 404
    assert verify_password(password_of(outsider.id), PASSWORD)


def test_an_official_resets_by_call_back(app, en, grid_world):
    log_in(en, grid_world["official"].phone, PASSWORD)
    outsider = grid_world["outsider"]
    slip = submit(en, en.get(f"/official/residents/{outsider.id}/password-reset"), "main form.stack",
                  method="phone_call_back", note="回拨登记号码，本人确认")
    assert slip.status_code == 200 and 'id="temporary-password"' in text(slip)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.password_reset_assisted"))
    assert event.actor_id == grid_world["official"].id and event.after["method"] == "phone_call_back"
    assert event.after["id_last4"] is None


def test_a_temporary_password_expires(app, grid_world, clock):
    resident = grid_world["resident"]
    password = recovery.assisted_reset(db.session, grid_world["official"], resident, method="in_person_id",
                                       id_last4="0001", note="")
    db.session.commit()
    clock.advance(hours=72)
    her = _english_client(app)
    refused = log_in(her, resident.phone, password)
    assert refused.status_code == 422 and "This temporary password has expired." in text(refused)
