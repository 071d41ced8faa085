"""The outbox: written with its cause, one row per key, backoff on an injected clock,
dead letters, quiet hours, the daily limit, templates by language, preferences and pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app import sms
from app.delivery.models import NotificationPreference, OutboxStatus
from app.delivery.outbox import backoff, deliver_due, enqueue
from app.delivery.templates import render
from app.extensions import db
from app.models import SmsMessage
from app.notifications import notify
from tests import factories
from tests.form_submit import submit
from tests.outbox_helpers import ScriptedTransport, count, message

pytestmark = pytest.mark.usefixtures("english_messages")

SHANGHAI = timezone(timedelta(hours=8))


def at_local(hour: int, minute: int = 0, day: int = 2, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


def reminder(key: str, phone: str = "13900000001", **kwargs):
    return enqueue(db.session, channel="sms", recipient=phone, template="reminder_24h",
                   params={"service": "助浴", "time": "09:00"}, dedup_key=key, **kwargs)


# --- written with its cause, once ------------------------------------------------------------

def test_a_message_exists_only_if_its_transaction_commits(db_session):
    savepoint = db_session.begin_nested()
    reminder("rolled-back")
    savepoint.rollback()
    assert message("rolled-back") is None
    reminder("kept")
    db_session.commit()
    assert message("kept").status == OutboxStatus.PENDING


def test_the_same_dedup_key_gives_one_message(db_session):
    first = reminder("reminder-24h-7")
    again = reminder("reminder-24h-7", phone="13900000002")
    assert again.id == first.id and count(dedup_key="reminder-24h-7") == 1
    transport = ScriptedTransport()
    deliver_due(db_session, transports_by_channel={"sms": transport})
    reminder("reminder-24h-7")
    deliver_due(db_session, transports_by_channel={"sms": transport})
    assert [key for key, _text in transport.sent] == ["reminder-24h-7"]


def test_a_notification_is_copied_to_sms_in_its_users_language(db_session, clock):
    zh, en = factories.resident(), factories.resident(locale="en")
    notify(db_session, [zh.id, en.id], "provider.removed", link="/provider", reason="资质过期")
    db_session.commit()
    deliver_due(db_session, clock=clock.now)
    texts = dict(db_session.execute(sa.select(SmsMessage.phone, SmsMessage.body)).all())
    assert texts[en.phone] == "Linli: Your organisation was removed from Linli: 资质过期"
    assert texts[zh.phone].startswith("邻里") or "资质过期" in texts[zh.phone]
    assert texts[zh.phone] != texts[en.phone]


def test_sms_send_is_urgent_and_goes_out_when_the_request_commits(db_session):
    from app.uow import commit

    sms.send(db_session, "13900000009", "Your code is 123456")
    assert db_session.scalar(sa.select(SmsMessage).where(SmsMessage.phone == "13900000009")) is None
    commit(db_session)
    assert db_session.scalar(sa.select(SmsMessage.body).where(SmsMessage.phone == "13900000009")) == "Your code is 123456"
    assert count(recipient="13900000009", status=OutboxStatus.SENT) == 1


# --- retries, backoff, dead letters ----------------------------------------------------------

def test_failures_back_off_exponentially_then_the_message_is_dead(app, db_session, clock):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 4
    try:
        reminder("doomed")
    finally:
        app.config["DELIVERY_MAX_ATTEMPTS"] = 8
    transport = ScriptedTransport(failures=99)
    waits = []
    for attempt in range(1, 5):
        before = clock.now()
        tally = deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
        assert tally.claimed == 1
        row = message("doomed")
        db_session.refresh(row)
        assert row.attempts == attempt and row.last_error == "provider down (scripted)"
        if attempt < 4:
            assert row.status == OutboxStatus.PENDING
            waits.append(row.next_attempt_at - before)
            # Not due a moment before its time; due at it.
            clock.set(row.next_attempt_at - timedelta(seconds=1))
            assert deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport}).claimed == 0
            clock.set(row.next_attempt_at)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert row.status == OutboxStatus.DEAD and transport.tries == 4
    clock.advance(days=1)
    assert deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport}).claimed == 0


def test_backoff_is_capped():
    assert backoff(1, 30, 3600) == timedelta(seconds=30)
    assert backoff(5, 30, 3600) == timedelta(seconds=480)
    assert backoff(20, 30, 3600) == timedelta(seconds=3600)


def test_a_permanent_refusal_is_dead_at_once(db_session, clock):
    reminder("bad-number")
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": ScriptedTransport(1, permanent=True)})
    row = message("bad-number")
    assert row.status == OutboxStatus.DEAD and row.attempts == 1


def test_a_worker_that_died_mid_send_leaves_the_message_to_be_sent_again(app, db_session, clock):
    from app.delivery.outbox import claim

    reminder("orphan")
    claimed = claim(db_session, at=clock.now(), batch=10)
    assert [m.dedup_key for m in claimed] == ["orphan"]
    transport = ScriptedTransport()
    # The lease holds: nobody else takes it...
    assert deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport}).claimed == 0
    # ...until it runs out; then it is sent (at least once), and the dead worker records nothing.
    clock.advance(seconds=app.config["DELIVERY_LEASE_SECONDS"])
    assert deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport}).sent == 1
    from app.delivery.outbox import _record

    assert _record(db_session, claimed[0], status=OutboxStatus.DEAD) is False
    assert message("orphan").status == OutboxStatus.SENT and message("orphan").attempts == 2


# --- quiet hours, daily limit, expiry -------------------------------------------------------

def test_quiet_hours_hold_non_urgent_messages_until_eight(db_session, clock):
    clock.set(at_local(23, 10))
    reminder("night")
    urgent = reminder("night-code", urgent=True)
    assert message("night").next_attempt_at == at_local(8, day=3)
    assert urgent.next_attempt_at == clock.now()
    transport = ScriptedTransport()
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    assert [k for k, _ in transport.sent] == ["night-code"]
    clock.set(at_local(8, day=3))
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    assert [k for k, _ in transport.sent] == ["night-code", "night"]


def test_a_retry_falling_into_quiet_hours_waits_without_using_an_attempt(db_session, clock):
    clock.set(at_local(21, 59, second=50))
    reminder("late")
    transport = ScriptedTransport(failures=1)
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    clock.set(at_local(22, 0, second=20))  # the retry is due, but it is night now
    tally = deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    row = message("late")
    assert tally.held == 1 and row.attempts == 1 and row.next_attempt_at == at_local(8, day=3)


def test_the_daily_limit_per_phone_holds_the_rest_until_the_next_morning(app, db_session, clock):
    app.config["SMS_DAILY_LIMIT"] = 3
    try:
        for n in range(5):
            reminder(f"flood-{n}", phone="13900000077")
        reminder("other-phone", phone="13900000078")
        reminder("flood-code", phone="13900000077", urgent=True)
        transport = ScriptedTransport()
        tally = deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    finally:
        app.config["SMS_DAILY_LIMIT"] = 10
    sent = [k for k, _ in transport.sent]
    assert sent == ["flood-0", "flood-1", "flood-2", "other-phone", "flood-code"]
    assert tally.held == 2
    assert message("flood-4").next_attempt_at == at_local(8, day=3) and message("flood-4").attempts == 0


def test_a_message_held_past_its_expiry_is_dropped(db_session, clock):
    clock.set(at_local(21, 59, second=50))
    reminder("stale", expires_at=at_local(22, 30))  # a visit at 22:30
    transport = ScriptedTransport(failures=1)
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    clock.set(at_local(22, 0, second=20))  # the retry is due in the quiet hours, which end after the visit
    tally = deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": transport})
    assert tally.expired == 1 and message("stale").status == OutboxStatus.EXPIRED and transport.sent == []


# --- templates --------------------------------------------------------------------------------

def test_templates_render_in_chinese_and_english(app):
    params = {"service": "助浴", "time": "09:00"}
    zh = render("reminder_24h", params, "zh")
    en = render("reminder_24h", params, "en")
    assert en.text == "Linli reminder: your visit “助浴” is tomorrow at 09:00."
    assert zh.variables == en.variables == params
    assert render("reminder_24h", params, "fr").text == render("reminder_24h", params, None).text == zh.text


# --- the user's preferences page --------------------------------------------------------------

def test_a_resident_turns_email_on_and_sms_off(client, auth, db_session):
    resident = factories.resident()
    auth.login(resident)
    page = client.get("/account/notifications")
    assert page.status_code == 200
    refused = submit(client, page.get_data(as_text=True), "/account/notifications", email="y", email_address="")
    assert refused.status_code == 422 and "Give the email address" in refused.get_data(as_text=True)
    assert db_session.get(NotificationPreference, resident.id) is None
    bad = submit(client, page.get_data(as_text=True), "/account/notifications", email="y", email_address="not-mail")
    assert bad.status_code == 422 and "like name@example.com" in bad.get_data(as_text=True)
    saved = submit(client, page.get_data(as_text=True), "/account/notifications", sms="", email="y",
                   email_address="wang@example.com")
    assert saved.status_code == 302
    pref = db_session.get(NotificationPreference, resident.id)
    assert (pref.sms, pref.email, pref.email_address) == (False, True, "wang@example.com")
    notify(db_session, [resident.id], "provider.removed", reason="x")
    assert count(user_id=resident.id, channel="email") == 1 and count(user_id=resident.id, channel="sms") == 0


# --- the officials' outbox page and the CLI ---------------------------------------------------

def test_officials_see_dead_letters_and_send_them_again(app, client, auth, db_session, clock):
    reminder("dead-one", phone="13900000055")
    deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": ScriptedTransport(1, permanent=True)})
    auth.login(factories.resident())
    assert client.get("/official/outbox").status_code == 403
    submit(client, client.get("/").get_data(as_text=True), "/logout")  # the header's log-out button
    auth.login(factories.official())
    page = client.get("/official/outbox?status=dead")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "13900000055" in html and "provider down (scripted)" in html
    row = message("dead-one")
    response = submit(client, html, f"/official/outbox/{row.id}/retry")
    assert response.status_code == 302
    db_session.refresh(row)
    assert row.status == OutboxStatus.PENDING and row.max_attempts > row.attempts
    deliver_due(db_session, clock=clock.now)
    db_session.refresh(row)
    assert row.status == OutboxStatus.SENT
    from app.audit import trail

    assert [e.action for e in trail(db_session, "outbox_message", row.id)] == ["outbox.retry"]


def test_the_cli_prints_the_outbox_and_runs_the_worker(app, db_session):
    reminder("cli-one", phone="13900000066")
    db_session.commit()
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["outbox", "--phone", "13900000066"])
    assert printed.exit_code == 0 and "13900000066" in printed.output and "pending" in printed.output
    ran = runner.invoke(args=["outbox", "deliver"])
    assert ran.exit_code == 0 and "sent 1" in ran.output


def test_quiet_hours_are_22_to_8_shanghai_time(app):
    from app.delivery.policy import in_quiet_hours, quiet_hours_end

    assert [in_quiet_hours(at_local(h, m)) for h, m in ((21, 59), (22, 0), (3, 0), (7, 59), (8, 0))] == [
        False, True, True, True, False]
    assert quiet_hours_end(at_local(22, 0)) == at_local(8, day=3)
    assert quiet_hours_end(at_local(3, 0)) == at_local(8)
    assert quiet_hours_end(at_local(12, 0)) == at_local(12, 0)


def test_a_provider_channel_without_its_keys_stops_the_app_with_every_problem():
    from app.config import ConfigError
    from app.delivery.settings import check, settings

    with pytest.raises(ConfigError) as refused:
        check({"SMS_SENDER": "aliyun", "ALIYUN_ACCESS_KEY_ID": "", "ALIYUN_ACCESS_KEY_SECRET": "", "ALIYUN_SMS_SIGN_NAME": ""})
    assert len(refused.value.problems) == 3 and "LINLI_ALIYUN_ACCESS_KEY_ID" in refused.value.problems[0]
    with pytest.raises(ConfigError, match="LINLI_SMS_SENDER"):
        check({"SMS_SENDER": "carrier-pigeon"})
    with pytest.raises(ConfigError, match="LINLI_ALIYUN_SMS_TEMPLATES"):
        settings({"LINLI_ALIYUN_SMS_TEMPLATES": "{not json"})
    with pytest.raises(ConfigError, match="LINLI_SMS_DAILY_LIMIT"):
        settings({"LINLI_SMS_DAILY_LIMIT": "0"})
    assert settings({})["EMAIL_SENDER"] == "outbox" and settings({})["SMS_DAILY_LIMIT"] == 10
