"""One outbox worker as a separate process (tests/test_outbox_faults.py starts two).

Environment: OUTBOX_DB_URL (the scratch database), OUTBOX_STUB (the Aliyun stub's
host:port), OUTBOX_NOW (the worker's frozen clock, ISO 8601), OUTBOX_BATCH.
Prints "ready" once the app is built, waits for a line on stdin (so two workers
start their rounds together), delivers until nothing is due, prints its tally as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime


def main() -> None:
    from app import create_app
    from app.clock import FrozenClock
    from app.delivery.outbox import deliver_due
    from app.extensions import db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": os.environ["OUTBOX_DB_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2, "max_overflow": 0},
        "CLOCK": FrozenClock(datetime.fromisoformat(os.environ["OUTBOX_NOW"])),
        "SMS_SENDER": "aliyun", "ALIYUN_ACCESS_KEY_ID": "LTAI-test", "ALIYUN_ACCESS_KEY_SECRET": "secret",
        "ALIYUN_SMS_SIGN_NAME": "邻里", "ALIYUN_SMS_ENDPOINT": os.environ["OUTBOX_STUB"],
        "ALIYUN_SMS_PROTOCOL": "http", "ALIYUN_SMS_TEMPLATES": {"reminder_24h": {"zh": "SMS_480001"}},
    })
    with app.app_context():
        print("ready", flush=True)
        sys.stdin.readline()
        tally = deliver_due(db.session, batch=int(os.environ.get("OUTBOX_BATCH", "3")), rounds=100000)
        db.session.remove()
        db.engine.dispose()
    print(json.dumps({"claimed": tally.claimed, "sent": tally.sent, "retried": tally.retried, "dead": tally.dead,
                      "sent_ids": tally.sent_ids}), flush=True)


if __name__ == "__main__":
    main()
