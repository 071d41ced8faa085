"""Delivery under faults, really committing: the SMS provider (the Aliyun stub) failing
for a while then recovering delivers each message exactly once; two worker processes
on the same database deliver nothing twice.

The figures (messages, attempts, requests, duplicates) are written to
test-artifacts/i15-outbox-figures.json for the closing note.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.delivery.channels import AliyunSms, reset_transports
from app.delivery.models import OutboxMessage, OutboxStatus
from app.delivery.outbox import deliver_due, enqueue
from app.extensions import db
from tests.conftest import on_postgres
from tests.helpers import race_app
from tests.sms_stub import aliyun_stub

pytestmark = pytest.mark.no_db_session

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "test-artifacts" / "i15-outbox-figures.json"


def record(name: str, figures: dict) -> None:
    FIGURES.parent.mkdir(exist_ok=True)
    found = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    found[f"{name} ({'postgresql' if on_postgres() else 'sqlite'})"] = figures
    FIGURES.write_text(json.dumps(found, indent=2, ensure_ascii=False))
    print(name, figures)


def add_messages(count: int) -> list[str]:
    keys = [f"reminder-24h-{n}" for n in range(count)]
    for key in keys:
        enqueue(db.session, channel="sms", recipient=f"139{len(key):02d}{keys.index(key):06d}", template="reminder_24h",
                params={"service": "助浴", "time": "09:00"}, dedup_key=key)
    db.session.commit()
    return keys


def pending_until() -> object:
    """When the last waiting message is due again (None when nothing waits)."""
    return db.session.scalar(sa.select(sa.func.max(OutboxMessage.next_attempt_at))
                             .where(OutboxMessage.status == OutboxStatus.PENDING))


def outcome(stub, keys: list[str]) -> dict:
    rows = db.session.scalars(sa.select(OutboxMessage)).all()
    delivered = stub.delivered()
    return {
        "messages": len(keys),
        "sent": sum(r.status == OutboxStatus.SENT for r in rows),
        "dead": sum(r.status == OutboxStatus.DEAD for r in rows),
        "attempts": sum(r.attempts for r in rows),
        "provider_requests": len(stub.requests),
        "failed_requests": sum(a["Code"] != "OK" for _s, a in stub.answers),
        "duplicates": sum(n - 1 for n in delivered.values() if n > 1),
        "undelivered": sum(1 for k in keys if delivered[k] == 0),
    }


def test_a_provider_failing_then_recovering_delivers_each_message_exactly_once(tmp_path_factory):
    messages, failures = 40, 25
    with aliyun_stub() as stub, race_app(tmp_path_factory, "outbox_fault") as app, app.app_context():
        clock = app.extensions["linli.clock"]
        keys = add_messages(messages)
        for n in range(failures):  # provider faults: HTTP 500s and flow control, interleaved
            stub.failing(1, None if n % 2 else "isv.BUSINESS_LIMIT_CONTROL")
        transport = AliyunSms({**app.config, "ALIYUN_ACCESS_KEY_ID": "LTAI-test", "ALIYUN_ACCESS_KEY_SECRET": "s",
                               "ALIYUN_SMS_ENDPOINT": stub.endpoint, "ALIYUN_SMS_PROTOCOL": "http",
                               "ALIYUN_SMS_SIGN_NAME": "邻里",
                               "ALIYUN_SMS_TEMPLATES": {"reminder_24h": {"zh": "SMS_480001"}}})
        rounds = 0
        while (due := pending_until()) is not None and rounds < 50:
            clock.set(max(due, clock.now()))
            deliver_due(db.session, clock=clock.now, batch=7, rounds=1000, transports_by_channel={"sms": transport})
            rounds += 1
        figures = {**outcome(stub, keys), "worker_rounds": rounds}
        db.session.remove()
    record("provider failing then recovering", figures)
    assert figures["sent"] == messages and figures["dead"] == 0 and figures["undelivered"] == 0
    assert figures["duplicates"] == 0
    assert figures["failed_requests"] == failures
    assert figures["provider_requests"] == figures["attempts"] == messages + failures


def _start_worker(url: str, stub, now) -> subprocess.Popen:
    env = {**os.environ, "OUTBOX_DB_URL": url, "OUTBOX_STUB": stub.endpoint, "OUTBOX_NOW": now.isoformat(),
           "OUTBOX_BATCH": "3", "SECRET_KEY": "worker-process-secret-key-long-enough-1234"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.outbox_worker_process"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def test_two_worker_processes_deliver_nothing_twice(tmp_path_factory):
    messages, failures = 150, 12
    with aliyun_stub() as stub, race_app(tmp_path_factory, "outbox_procs") as app, app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
        clock = app.extensions["linli.clock"]
        keys = add_messages(messages)
        stub.failing(failures)
        per_round = []
        while (due := pending_until()) is not None and len(per_round) < 20:
            clock.set(max(due, clock.now()))
            db.session.commit()
            workers = [_start_worker(url, stub, clock.now()) for _ in range(2)]
            for proc in workers:  # both built and waiting: start them together
                proc.stdin.write("go\n")
                proc.stdin.flush()
            tallies = []
            for proc in workers:
                out, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err[-3000:]
                tallies.append(json.loads(out.strip().splitlines()[-1]))
            per_round.append([{k: t[k] for k in ("claimed", "sent", "retried")} for t in tallies])
            db.session.remove()
        figures = {**outcome(stub, keys), "worker_processes": 2, "rounds": per_round}
        db.session.remove()
        reset_transports(app)
    record("two worker processes", figures)
    assert figures["duplicates"] == 0 and figures["undelivered"] == 0 and figures["sent"] == messages
    assert figures["provider_requests"] == figures["attempts"] == messages + failures
    first = per_round[0]
    assert all(worker["claimed"] > 0 for worker in first), "both processes took part"
