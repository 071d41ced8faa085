"""Statements for providers and officials, and the officials' billing overview with the trial balance."""

import csv
import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from billing import ledger, settlements
from billing.models import Account
from billing.overview import billing_overview
from billing.payment_models import PayoutAccount
from tests import factories
from tests.fake_gateway import use_gateway
from tests.test_settlements import NOVEMBER, completed_booking, to_december


@pytest.fixture
def settled(app, clock, monkeypatch):
    """One provider settled for November: a Stripe-paid booking, an offline one, an unpaid one, a fine."""
    use_gateway(app, monkeypatch, "stripe")
    provider = factories.provider()
    staff = factories.staff(provider)
    db.session.add(PayoutAccount(provider_id=provider.id, bank_name="建设银行", bank_account_no="6217000011112222",
                                 account_holder=provider.name))
    online = completed_booking(clock, factories.listing(provider, price_fen=20000, title="适老化改造评估"), staff,
                               pay="gateway")
    use_gateway(app, monkeypatch, "offline")
    on_site = completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="confirm")
    unpaid = completed_booking(clock, factories.listing(provider, price_fen=5000), staff)
    payable = ledger.provider_payable_code(provider.id)
    ledger.post(db.session, kind="penalty", cause_type="penalty", cause_id=9, memo="three late starts",
                lines=[(payable, 1000), ("penalty_income", -1000)])
    db.session.commit()
    use_gateway(app, monkeypatch, "stripe")
    to_december(clock)
    settlement = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    return provider, staff, settlement, (online, on_site, unpaid)


def test_the_statement_arithmetic_of_a_mixed_month(settled):
    provider, _staff, s, _bookings = settled
    # gross 370.00; fee 10.00 + 6.00 + 2.50; fine 10.00; collected 120.00 on site + 50.00 outside Linli
    assert (s.gross_fen, s.fee_fen, s.penalties_fen, s.collected_offline_fen) == (37000, 1850, 1000, 17000)
    assert s.net_fen == 17150
    assert ledger.balance(db.session, ledger.provider_payable_code(provider.id)) == -17150  # exactly the payout
    assert ledger.is_balanced(db.session)


def test_provider_staff_read_their_statement_list_page_and_csv(settled, client, auth):
    provider, staff, s, (online, on_site, unpaid) = settled
    client.set_cookie("linli_lang", "en")
    auth.login(staff)
    listing = client.get("/provider/statements")
    assert listing.status_code == 200 and f"/provider/statements/{NOVEMBER}" in listing.get_data(as_text=True)
    page = client.get(f"/provider/statements/{NOVEMBER}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("适老化改造评估", "¥370.00", "¥18.50", "¥171.50", "three late starts", "Paid on site",
                 "Paid outside Linli", "Paid online", f"line-{unpaid.id}", "To pay", "Bank transfer"):
        assert text in html, text
    download = client.get(f"/provider/statements/{NOVEMBER}.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["booking", "date", "service", "paid", "gross_yuan", "fee_yuan"]
    assert [str(online.id), "2026-11-03", "适老化改造评估", "gateway", "200.00", "10.00"] in rows
    assert ["net", "", "", "", "171.50", ""] in rows
    assert ["payout", "", "", "bank_file", "171.50", "pending"] in rows


def test_providers_see_only_their_own_statements(settled, client, auth):
    provider, _staff, _s, _bookings = settled
    stranger = factories.staff()  # another provider, never settled
    auth.login(stranger)
    assert client.get(f"/provider/statements/{NOVEMBER}").status_code == 404
    assert client.get(f"/provider/statements/{NOVEMBER}.csv").status_code == 404
    assert provider.name not in client.get("/provider/statements").get_data(as_text=True)
    assert client.get(f"/official/providers/{provider.id}/statements/{NOVEMBER}").status_code == 403
    assert client.get("/official/billing").status_code == 403
    bad = client.get("/provider/statements/2026-13")
    assert bad.status_code == 400
    assert client.get("/provider/statements/soon.csv").status_code == 400


def test_residents_and_visitors_are_kept_out(settled, client, auth):
    assert client.get("/provider/statements").status_code in (302, 401)
    assert client.get("/official/billing").status_code in (302, 401)
    auth.login(factories.resident())
    assert client.get("/provider/statements").status_code == 403
    assert client.get("/official/billing").status_code == 403


def test_officials_read_any_providers_statement(settled, client, auth):
    provider, _staff, _s, _bookings = settled
    client.set_cookie("linli_lang", "en")
    auth.login(factories.official())
    assert client.get(f"/official/providers/{provider.id}/statements").status_code == 200
    page = client.get(f"/official/providers/{provider.id}/statements/{NOVEMBER}")
    assert page.status_code == 200 and "¥171.50" in page.get_data(as_text=True)
    assert client.get(f"/official/providers/{provider.id}/statements/{NOVEMBER}.csv").status_code == 200
    assert client.get(f"/official/providers/{provider.id}/statements/2026-10").status_code == 404
    assert client.get(f"/official/providers/999999/statements/{NOVEMBER}").status_code == 404
    assert client.get(f"/official/providers/{provider.id}/statements/abc").status_code == 400
    period = client.get(f"/official/settlements/{NOVEMBER}")
    assert period.status_code == 200 and provider.name in period.get_data(as_text=True)


def test_the_overview_figures_and_a_balanced_ledger(settled, client, auth):
    provider, _staff, s, _bookings = settled
    view = billing_overview(db.session)
    assert view.money_in_fen == 32000 and view.money_in_by_gateway == {"offline": 12000, "stripe": 20000}
    assert view.payment_count == 2
    assert (view.refunds_fen, view.refund_count) == (0, 0)
    assert (view.payouts_paid_fen, view.payouts_open_fen, view.payouts_open_count) == (0, 17150, 1)
    assert view.payables_owed_fen == 17150 and view.providers_owing_fen == 0
    assert view.balanced and view.debits_fen == view.credits_fen
    codes = {row.account.code for row in view.trial_balance}
    assert {"platform_fees", "penalty_income", ledger.provider_payable_code(provider.id)} <= codes

    client.set_cookie("linli_lang", "en")
    auth.login(factories.official())
    page = client.get("/official/billing")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ledger balanced" in html and "NOT balanced" not in html
    for text in ("¥320.00", "¥171.50", "Platform fees", NOVEMBER):
        assert text in html, text


def test_the_overview_shows_a_ledger_that_does_not_balance(settled, client, auth):
    # Simulate corruption: a running balance that no longer matches its entries.
    db.session.execute(sa.update(Account).where(Account.code == "platform_fees")
                       .values(balance_fen=Account.balance_fen - 1))
    db.session.commit()
    assert not billing_overview(db.session).balanced
    client.set_cookie("linli_lang", "en")
    auth.login(factories.official())
    html = client.get("/official/billing").get_data(as_text=True)
    assert "Ledger NOT balanced" in html and "Mismatch" in html


def test_the_overview_of_an_empty_ledger(client, auth):
    client.set_cookie("linli_lang", "en")
    auth.login(factories.official())
    page = client.get("/official/billing")
    assert page.status_code == 200
    assert "Ledger balanced" in page.get_data(as_text=True)
