"""Visit reminders 24 h and 1 h before, to the resident and the carer, through the outbox:
the Aliyun stub receives the reminder with its template and parameters, once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clock import local
from app.delivery.channels import AliyunSms
from app.delivery.models import OutboxMessage, OutboxStatus
from app.extensions import db
from app.models import User
from app.delivery.outbox import deliver_due
from providers.bookings import services as bookings
from providers.bookings.reminders import send_visit_reminders
from providers.models import ProviderStaff
from tests import factories
from tests.carer_helpers import carer_for
from tests.outbox_helpers import message
from tests.sms_stub import aliyun_stub

pytestmark = pytest.mark.usefixtures("english_messages")

TEMPLATES = {"reminder_24h": {"zh": "SMS_480001", "en": "SMS_480002"}, "reminder_1h": {"zh": "SMS_480011"}}


def aliyun(app, stub) -> AliyunSms:
    return AliyunSms({**app.config, "ALIYUN_ACCESS_KEY_ID": "LTAI-test", "ALIYUN_ACCESS_KEY_SECRET": "secret",
                      "ALIYUN_SMS_ENDPOINT": stub.endpoint, "ALIYUN_SMS_PROTOCOL": "http",
                      "ALIYUN_SMS_SIGN_NAME": "邻里", "ALIYUN_SMS_TEMPLATES": TEMPLATES})


def accepted_visit(db_session, **resident):
    listing = factories.listing()
    booking = factories.booking(listing, factories.resident(listing.communities[0], **resident),
                                starts_at=factories.next_slot(listing, days_ahead=2))
    bookings.accept(db_session, booking, _staff(listing),
                    carer_id=carer_for(booking))
    db_session.commit()
    return booking


def _staff(listing):
    return db.session.scalar(sa.select(User).join(ProviderStaff, ProviderStaff.user_id == User.id)
                             .where(ProviderStaff.provider_id == listing.provider_id).limit(1))


def test_the_24h_and_1h_reminders_reach_the_resident_and_the_carer_once(app, db_session, clock):
    booking = accepted_visit(db_session)
    clock.set(booking.starts_at - timedelta(hours=25))
    assert send_visit_reminders(db_session) == 0  # not yet
    clock.set(booking.starts_at - timedelta(hours=24))
    send_visit_reminders(db_session)
    send_visit_reminders(db_session)  # a re-run (or a second scheduler) adds nothing
    db_session.commit()
    keys = set(db_session.scalars(sa.select(OutboxMessage.dedup_key)))
    assert {f"reminder-24h-{booking.id}", f"reminder-24h-{booking.id}-carer"} <= keys
    with aliyun_stub() as stub:
        deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": aliyun(app, stub)})
        clock.set(booking.starts_at - timedelta(hours=1))
        send_visit_reminders(db_session)
        db_session.commit()
        deliver_due(db_session, clock=clock.now, transports_by_channel={"sms": aliyun(app, stub)})
    to_resident = [r for r in stub.requests if r["OutId"] == f"reminder-24h-{booking.id}"]
    assert len(to_resident) == 1
    sent = to_resident[0]
    assert (sent["PhoneNumbers"], sent["SignName"], sent["TemplateCode"]) == (booking.resident.phone, "邻里", "SMS_480001")
    assert json.loads(sent["TemplateParam"]) == {"service": booking.listing.title,
                                                 "time": local(booking.starts_at).strftime("%H:%M")}
    assert [r["PhoneNumbers"] for r in stub.requests if r["OutId"] == f"reminder-24h-{booking.id}-carer"] == [
        booking.carer.phone]
    assert sorted(r["OutId"] for r in stub.requests) == sorted(
        f"reminder-{n}-{booking.id}{who}" for n in ("24h", "1h") for who in ("", "-carer"))
    one_hour = [r for r in stub.requests if r["OutId"] == f"reminder-1h-{booking.id}"]
    assert one_hour[0]["TemplateCode"] == "SMS_480011"
    assert message(f"reminder-1h-{booking.id}").status == OutboxStatus.SENT


def test_a_cancelled_visit_gets_no_reminder(db_session, clock):
    booking = accepted_visit(db_session)
    bookings.cancel_by_resident(db_session, booking, booking.resident, reason="")
    db_session.commit()
    clock.set(booking.starts_at - timedelta(hours=24))
    assert send_visit_reminders(db_session) == 0


def test_a_visit_accepted_late_gets_only_the_one_hour_reminder(db_session, clock):
    booking = accepted_visit(db_session)
    clock.set(booking.starts_at - timedelta(hours=3))
    assert send_visit_reminders(db_session) == 0  # too late for "tomorrow", too early for the hour
    clock.set(booking.starts_at - timedelta(minutes=50))
    assert send_visit_reminders(db_session) == 2
    assert message(f"reminder-1h-{booking.id}").template == "reminder_1h"
