"""The real transports against real local servers: Aliyun's SDK against an HTTP stub that
answers in Aliyun's shapes, and smtplib against aiosmtpd."""

from __future__ import annotations

import json

import pytest

from app.delivery.channels import AliyunSms, SmtpEmail
from app.delivery.models import OutboxStatus
from app.delivery.outbox import deliver_due, enqueue
from app.extensions import db
from tests import factories
from tests.outbox_helpers import message
from tests.sms_stub import aliyun_stub, smtp_server

pytestmark = pytest.mark.usefixtures("english_messages")

TEMPLATES = {"reminder_24h": {"zh": "SMS_480001", "en": "SMS_480002"}, "notice": {"zh": "SMS_480003"}}


def aliyun(app, stub) -> AliyunSms:
    return AliyunSms({**app.config, "ALIYUN_ACCESS_KEY_ID": "LTAI-test", "ALIYUN_ACCESS_KEY_SECRET": "secret",
                      "ALIYUN_SMS_ENDPOINT": stub.endpoint, "ALIYUN_SMS_PROTOCOL": "http",
                      "ALIYUN_SMS_SIGN_NAME": "邻里", "ALIYUN_SMS_TEMPLATES": TEMPLATES, "ALIYUN_TIMEOUT_MS": 3000})


def test_the_aliyun_sdk_sends_sign_name_template_code_and_params(app, db_session, clock):
    with aliyun_stub() as stub:
        enqueue(db.session, channel="sms", recipient="13900000101", template="reminder_24h", language="en",
                params={"service": "助浴", "time": "09:00"}, dedup_key="reminder-24h-41")
        enqueue(db.session, channel="sms", recipient="13900000102", template="reminder_24h", language="zh",
                params={"service": "理发", "time": "14:30"}, dedup_key="reminder-24h-42")
        tally = deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": aliyun(app, stub)})
    assert tally.sent == 2
    first, second = stub.requests
    assert first["_action"] == "SendSms" and first["_authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI-test")
    assert (first["PhoneNumbers"], first["SignName"], first["TemplateCode"], first["OutId"]) == (
        "13900000101", "邻里", "SMS_480002", "reminder-24h-41")
    assert json.loads(first["TemplateParam"]) == {"service": "助浴", "time": "09:00"}
    assert (second["TemplateCode"], json.loads(second["TemplateParam"])) == ("SMS_480001", {"service": "理发", "time": "14:30"})
    row = message("reminder-24h-41")
    assert row.status == OutboxStatus.SENT and row.provider_ref == "0^0"
    assert row.rendered == "Linli reminder: your visit “助浴” is tomorrow at 09:00."


def test_aliyun_errors_retry_or_die_by_their_code(app, db_session, clock):
    with aliyun_stub() as stub:
        for key in ("limited", "server-error", "bad-number"):
            enqueue(db.session, channel="sms", recipient="13900000103", template="reminder_24h",
                    params={"service": "s", "time": "t"}, dedup_key=key)
        stub.failing(1, "isv.BUSINESS_LIMIT_CONTROL")
        stub.failing(1)  # HTTP 500
        stub.failing(1, "isv.MOBILE_NUMBER_ILLEGAL")
        deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": aliyun(app, stub)})
        no_template = enqueue(db.session, channel="sms", recipient="13900000103", template="reminder_1h",
                              params={"service": "s", "time": "t"}, dedup_key="no-template")
        deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": aliyun(app, stub)})
    limited, failed, bad = message("limited"), message("server-error"), message("bad-number")
    assert limited.status == OutboxStatus.PENDING and "isv.BUSINESS_LIMIT_CONTROL" in limited.last_error
    assert failed.status == OutboxStatus.PENDING and "500" in failed.last_error
    assert bad.status == OutboxStatus.DEAD and "isv.MOBILE_NUMBER_ILLEGAL" in bad.last_error
    assert no_template.status == OutboxStatus.DEAD and "no Aliyun TemplateCode" in no_template.last_error
    assert len(stub.requests) == 3  # the message without a template never reached the provider


def test_an_unreachable_provider_is_retried(app, db_session, clock):
    with aliyun_stub() as stub:
        transport = aliyun(app, stub)
    enqueue(db.session, channel="sms", recipient="13900000104", template="reminder_24h",
            params={"service": "s", "time": "t"}, dedup_key="nobody-home")
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    row = message("nobody-home")
    assert row.status == OutboxStatus.PENDING and "unreachable" in row.last_error


def test_email_reaches_a_real_smtp_server_in_the_users_language(app, db_session, clock):
    from app.delivery.preferences import set_preferences
    from app.notifications import notify

    resident = factories.resident(locale="en")
    set_preferences(db_session, resident, sms=False, email=True, email_address="li@example.com")
    with smtp_server() as (controller, received):
        transport = SmtpEmail({**app.config, "SMTP_HOST": controller.hostname, "SMTP_PORT": controller.port,
                               "EMAIL_FROM": "Linli <noreply@linli.test>"})
        notify(db_session, [resident.id], "provider.removed", link="/provider", reason="licence expired")
        db_session.commit()
        tally = deliver_due(db_session, clock=clock.now, transports_by_channel={"email": transport})
    assert tally.sent == 1 and len(received) == 1
    mail = received[0]
    assert mail["to"] == ["li@example.com"] and mail["message"]["Subject"] == "Linli notification"
    assert mail["message"].get_content().strip() == "Linli: Your organisation was removed from Linli: licence expired"
    assert mail["message"]["Message-ID"].endswith("@linli>")


def test_an_smtp_server_that_is_down_means_a_retry(app, db_session, clock):
    from tests.sms_stub import free_port

    transport = SmtpEmail({**app.config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(), "SMTP_TIMEOUT_SECONDS": 2})
    enqueue(db.session, channel="email", recipient="x@example.com", template="reminder_1h",
            params={"service": "s", "time": "t"}, dedup_key="mail-down")
    deliver_due(db_session, clock=clock.now, transports_by_channel={"email": transport})
    row = message("mail-down")
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and "SMTP unreachable" in row.last_error
