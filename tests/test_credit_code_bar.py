"""A removed provider's credit code registers again once the bar has ended.

The bar is two calendar years from the removal, counted in whole Asia/Shanghai
days: the code is free from 00:00 on the second anniversary of the removal's
local day.  A removal on 29 February has no anniversary in a common year: the
bar runs through 28 February and the code is free on 1 March (decided and
documented in ``providers.models.reregistration_bar_end``).  Live providers'
codes stay unique: a partial unique index (migration 0011) backs the check.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.errors import Conflict
from app.extensions import db
from providers import registration, sanctions
from providers.models import Provider, ProviderStatus, reregistration_bar_end
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(y, m, d, h=0, minute=0, second=0) -> datetime:
    return datetime(y, m, d, h, minute, second, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


@pytest.mark.parametrize(("removed", "free_from"), [
    (shanghai(2024, 2, 29, 10), shanghai(2026, 3, 1)),  # no 29 February in 2026: free the day after the 28th
    (shanghai(2024, 2, 29, 23, 59), shanghai(2026, 3, 1)),
    (shanghai(2024, 2, 28, 23, 30), shanghai(2026, 2, 28)),  # 15:30 UTC: the Shanghai day is what counts
    (shanghai(2024, 3, 1, 0, 30), shanghai(2026, 3, 1)),  # still 29 February in UTC
    (shanghai(2026, 2, 28, 9), shanghai(2028, 2, 28)),  # into a leap year: the 29th is still barred
    (shanghai(2027, 1, 1, 4), shanghai(2029, 1, 1)),  # 31 December in UTC
    (shanghai(2026, 11, 2, 10), shanghai(2028, 11, 2)),
])
def test_the_bar_is_two_calendar_years_of_shanghai_days(app, removed, free_from):
    end = reregistration_bar_end(removed.astimezone(timezone.utc))
    assert end == free_from and end.tzinfo == timezone.utc


def details(code: str) -> registration.ProviderDetails:
    return registration.ProviderDetails(
        name="重新登记的机构", credit_code=code, legal_representative="张三", contact_name="李四",
        contact_phone="137 1234 5678", category_ids=[factories.category("housekeeping").id],
        community_ids=[factories.community().id],
    )


def register(code: str) -> Provider:
    provider, _user = registration.register_provider(
        db.session, details(code), staff_name="李四", staff_phone=factories.phone(), password="longenough")
    return provider


@pytest.fixture
def removed_on_leap_day(db_session, clock):
    """A provider removed at 10:00 Shanghai on 29 February 2024."""
    clock.set(shanghai(2024, 2, 29, 10))
    provider = factories.provider()
    sanctions.remove(db.session, provider, actor=None, reason="多次严重违规")
    db.session.commit()
    assert provider.reregistration_barred_until == shanghai(2026, 3, 1)
    return provider


def test_before_the_bar_ends_the_code_is_refused_with_both_dates(removed_on_leap_day, clock):
    clock.set(shanghai(2026, 2, 28, 23, 59, 59))
    with pytest.raises(Conflict) as refused:
        register(removed_on_leap_day.credit_code)
    assert refused.value.field == "credit_code"
    assert "removed from Linli on 2024-02-29" in str(refused.value.message)
    assert "may not register again before 2026-03-01" in str(refused.value.message)


def test_on_the_day_the_bar_ends_the_code_registers_again(removed_on_leap_day, clock):
    clock.set(shanghai(2026, 3, 1))
    again = register(removed_on_leap_day.credit_code)
    assert again.id != removed_on_leap_day.id and again.status == ProviderStatus.PENDING
    assert again.credit_code == removed_on_leap_day.credit_code
    # The removed organisation keeps its code and its record.
    assert db.session.get(Provider, removed_on_leap_day.id).status == ProviderStatus.REMOVED


def test_after_the_bar_the_code_registers_again_but_only_once(removed_on_leap_day, clock):
    clock.set(shanghai(2026, 7, 1, 9))
    register(removed_on_leap_day.credit_code)
    with pytest.raises(Conflict, match="already registered"):
        register(removed_on_leap_day.credit_code)


def test_a_pending_provider_cannot_take_a_barred_code_by_editing(removed_on_leap_day, clock):
    clock.set(shanghai(2025, 6, 1, 9))
    pending = register(factories.credit_code())
    with pytest.raises(Conflict, match="before 2026-03-01"):
        registration.update_details(db.session, pending, details(removed_on_leap_day.credit_code),
                                    actor=factories.official())
    clock.set(shanghai(2026, 3, 1, 9))
    registration.update_details(db.session, pending, details(removed_on_leap_day.credit_code),
                                actor=factories.official())
    assert pending.credit_code == removed_on_leap_day.credit_code


def test_a_removal_without_a_recorded_bar_still_refuses_the_code(db_session):
    removed = factories.provider(status=ProviderStatus.REMOVED)
    with pytest.raises(Conflict, match="may not register again for now"):
        register(removed.credit_code)


def _insert(code: str, status: ProviderStatus) -> None:
    with db.session.begin_nested():
        db.session.add(Provider(name="直接写入", credit_code=code, legal_representative="张三",
                                contact_name="李四", contact_phone="13712345678", status=status))
        db.session.flush()


def test_the_database_keeps_live_codes_unique_and_lets_removed_ones_repeat(db_session):
    code = factories.credit_code()
    _insert(code, ProviderStatus.REMOVED)
    _insert(code, ProviderStatus.REMOVED)
    _insert(code, ProviderStatus.REJECTED)  # a rejected organisation still holds its code
    for status in (ProviderStatus.PENDING, ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED):
        with pytest.raises(sa.exc.IntegrityError):
            _insert(code, status)
    assert db_session.scalar(sa.select(sa.func.count()).where(Provider.credit_code == code)) == 3

