"""Ledger accounts are shown in the reader's language (the stored name is the English one)."""

from __future__ import annotations

from flask_babel import force_locale

from billing import ledger


def test_account_names_are_translated_for_the_reader(db_session):
    fees = ledger.account(db_session, "platform_fees")
    budget = ledger.account(db_session, "programme_budget:7")
    with force_locale("zh"):
        assert ledger.account_label(fees) == "平台服务费"
        assert ledger.account_label(budget) == "项目 7 可用预算"
    with force_locale("en"):
        assert ledger.account_label(budget) == "Budget available, programme 7"
    assert budget.name == "Budget available, programme 7", "the stored name stays the reference name"
