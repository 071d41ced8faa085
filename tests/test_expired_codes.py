"""A sign-up that never finished keeps nothing personal once its code has expired."""

from __future__ import annotations

from datetime import timedelta

from app.auth import services
from app.models import PhoneCode
from tests import factories


def test_the_job_forgets_the_details_of_expired_unused_codes_only(db_session, clock):
    community = factories.community()
    waiting = services.start_signup(db_session, phone=factories.phone(), name="王阿姨", password="a-long-passphrase-9",
                                    community_id=community.id, ip="192.0.2.7")
    fresh = services.start_signup(db_session, phone=factories.phone(), name="李叔", password="a-long-passphrase-9",
                                  community_id=community.id, ip="192.0.2.8")
    assert waiting.payload["password_hash"]
    clock.advance(minutes=5)
    fresh.expires_at = clock.now() + timedelta(minutes=10)
    db_session.flush()

    assert services.forget_expired_codes(db_session) == 0, "nothing has expired yet"
    clock.advance(minutes=6)  # past the first code's 10 minutes, within the second's
    assert services.forget_expired_codes(db_session) == 1
    db_session.expire_all()
    assert db_session.get(PhoneCode, waiting.id).payload is None
    assert db_session.get(PhoneCode, fresh.id).payload["name"] == "李叔"
    assert services.forget_expired_codes(db_session) == 0, "running it twice changes nothing"


def test_the_job_is_scheduled(app):
    from app.scheduler import registered_jobs

    assert "forget_expired_codes" in {job.__name__ for job, _trigger in registered_jobs()}
