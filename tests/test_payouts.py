"""Payouts: Stripe Connect transfers (against the local stub) with retries, and the bank-transfer file."""

import csv
import io

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.errors import Conflict
from app.extensions import db
from billing import ledger, payouts, settlements
from billing.gateways.stripe_gateway import StripeGateway
from billing.jobs import send_payout, send_payouts
from billing.models import LedgerTransaction
from billing.payment_models import Payout, PayoutAccount, PayoutStatus
from tests import factories
from tests.fake_gateway import use_gateway
from tests.forms import open_page
from tests.stripe_fixtures import stripe_stub, stripe_stub_server  # noqa: F401
from tests.test_settlements import NOVEMBER, completed_booking, count, to_december


@pytest.fixture
def stripe_gateway(app, stripe_stub, monkeypatch):  # noqa: F811
    gateway = StripeGateway(secret_key="sk_test_linli", api_base=stripe_stub.base_url, currency="cny",
                            payment_methods=("card",))
    monkeypatch.setitem(app.extensions, "linli.gateway", gateway)
    monkeypatch.setitem(app.config, "LINLI_PAYMENT_GATEWAY", "stripe")
    return gateway


def _settled_stripe_provider(clock, *, connected=True, bank=False):
    provider = factories.provider()
    staff = factories.staff(provider)
    db.session.add(PayoutAccount(provider_id=provider.id, stripe_account_id="acct_linli1" if connected else None,
                                 bank_name="中国工商银行淄博分行" if bank else "",
                                 bank_account_no="6222020000001234" if bank else "",
                                 account_holder=provider.name if bank else ""))
    completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="gateway")
    to_december(clock)
    settlement = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    return provider, settlement


def _payout_postings(settlement):
    return count(LedgerTransaction, LedgerTransaction.idempotency_key == f"settlement:{settlement.id}:payout")


def test_a_failed_transfer_then_a_retry_pays_once_with_the_same_key(app, clock, stripe_gateway, stripe_stub):  # noqa: F811
    provider, settlement = _settled_stripe_provider(clock)
    payout = db.session.scalar(sa.select(Payout))
    assert (payout.method, payout.status, payout.amount_fen) == ("stripe_transfer", PayoutStatus.PENDING, 11400)

    stripe_stub.fail_next_transfers(1, status=402)
    send_payout(db.session, payout.id)
    assert payout.status == PayoutStatus.FAILED and payout.attempts == 1
    assert payout.last_error and payout.gateway_ref is None
    assert _payout_postings(settlement) == 0

    send_payout(db.session, payout.id)
    assert payout.status == PayoutStatus.PAID and payout.attempts == 2 and payout.last_error is None
    assert payout.gateway_ref.startswith("tr_")
    send_payout(db.session, payout.id)  # already paid: nothing is sent

    sent = stripe_stub.requests_to("/v1/transfers")
    keys = {next(v for k, v in headers.items() if k.lower() == "idempotency-key") for _m, _p, _f, headers in sent}
    assert len(sent) == 2 and keys == {f"payout:{payout.id}"}
    assert sent[-1][2]["amount"] == "11400" and sent[-1][2]["destination"] == "acct_linli1"
    assert len([o for o in stripe_stub.objects.values() if o.get("object") == "transfer"]) == 1
    assert _payout_postings(settlement) == 1
    assert ledger.balance(db.session, ledger.provider_payable_code(provider.id)) == 0
    assert ledger.balance(db.session, ledger.gateway_code("stripe")) == 600  # the fee stays with Linli
    assert ledger.is_balanced(db.session)


def test_a_retried_request_after_a_lost_answer_does_not_pay_twice(app, clock, stripe_gateway, stripe_stub,  # noqa: F811
                                                                  monkeypatch):
    _provider, settlement = _settled_stripe_provider(clock)
    payout = db.session.scalar(sa.select(Payout))
    real_record = payouts.record_transfer

    def lost(*args, **kwargs):  # the transfer was made, then the database went away
        raise sa.exc.OperationalError("UPDATE payout", {}, Exception("connection lost"))

    monkeypatch.setattr(payouts, "record_transfer", lost)
    with pytest.raises(sa.exc.OperationalError):
        send_payout(db.session, payout.id)
    db.session.rollback()
    monkeypatch.setattr(payouts, "record_transfer", real_record)
    payout = db.session.get(Payout, payout.id)
    assert payout.status == PayoutStatus.PENDING
    send_payout(db.session, payout.id)
    assert payout.status == PayoutStatus.PAID
    assert len(stripe_stub.requests_to("/v1/transfers")) == 2
    assert len([o for o in stripe_stub.objects.values() if o.get("object") == "transfer"]) == 1
    assert _payout_postings(settlement) == 1


def test_the_payout_job_sends_pending_transfers(app, clock, stripe_gateway, stripe_stub):  # noqa: F811
    _settled_stripe_provider(clock)
    assert send_payouts(db.session) == 1
    assert send_payouts(db.session) == 0
    assert len(stripe_stub.requests_to("/v1/transfers")) == 1


def test_the_cli_sends_the_stripe_payouts_after_settling(app, clock, stripe_gateway, stripe_stub):  # noqa: F811
    provider = factories.provider()
    staff = factories.staff(provider)
    db.session.add(PayoutAccount(provider_id=provider.id, stripe_account_id="acct_cli"))
    completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="gateway")
    to_december(clock)
    result = app.test_cli_runner().invoke(args=["settle", "--period", NOVEMBER])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if provider.name in line)
    assert "stripe_transfer paid" in row
    assert len(stripe_stub.requests_to("/v1/transfers")) == 1


def test_without_a_connected_account_the_payout_goes_to_the_bank_file(app, clock, stripe_gateway):
    provider, settlement = _settled_stripe_provider(clock, connected=False, bank=True)
    payout = db.session.scalar(sa.select(Payout))
    assert payout.method == "bank_file"
    with pytest.raises(Conflict):
        send_payout(db.session, payout.id)


def test_bank_file_lists_payouts_and_an_official_confirms_them(app, clock, client, auth, monkeypatch):
    provider = factories.provider(name="=洁美家政")
    staff = factories.staff(provider)
    db.session.add(PayoutAccount(provider_id=provider.id, bank_name="中国工商银行淄博分行",
                                 bank_account_no="6222020000001234", account_holder="洁美家政服务有限公司"))
    use_gateway(app, monkeypatch, "stripe")
    completed_booking(clock, factories.listing(provider, price_fen=12345), staff, pay="gateway")
    to_december(clock)
    settlement = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    payout = db.session.scalar(sa.select(Payout))
    assert payout.method == "bank_file" and payout.amount_fen == 12345 - 617  # 617.25 → 617

    official = factories.official()
    client.set_cookie("linli_lang", "en")
    auth.login(official)
    response = client.get(f"/official/settlements/{NOVEMBER}/bank-file.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == payouts.BANK_FILE_HEADER
    assert rows[1] == [str(payout.id), "'=洁美家政", provider.credit_code, "中国工商银行淄博分行",
                       "6222020000001234", "洁美家政服务有限公司", "117.28", "pending"]
    assert len(rows) == 2

    page = open_page(client, f"/official/settlements/{NOVEMBER}")
    assert "bank-file.csv" in page.html
    confirm = f"/official/settlements/{NOVEMBER}/bank-file/confirm"
    confirmed = page.submit(action=confirm)
    assert confirmed.status_code == 302
    db.session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.paid_at is not None
    assert _payout_postings(settlement) == 1
    assert ledger.balance(db.session, ledger.provider_payable_code(provider.id)) == 0
    assert count(AuditEvent, AuditEvent.action == "payout.bank_transfer_confirmed",
                 AuditEvent.object_id == payout.id) == 1

    again = page.submit(action=confirm)  # the same page again (a second tab)
    assert again.status_code == 409
    assert "No bank transfers of 2026-11 are waiting" in again.get_data(as_text=True)
    assert _payout_postings(settlement) == 1
    assert ledger.is_balanced(db.session)


def test_confirming_needs_a_csrf_token(app, clock, client, auth, monkeypatch):
    auth.login(factories.official())
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(f"/official/settlements/{NOVEMBER}/bank-file/confirm")  # deliberately without the token
    assert response.status_code == 400
    assert count(AuditEvent, AuditEvent.action == "payout.bank_transfer_confirmed") == 0


def test_bank_file_pages_refuse_bad_months_and_non_officials(app, clock, client, auth):
    staff = factories.staff()
    auth.login(staff)
    assert client.get(f"/official/settlements/{NOVEMBER}/bank-file.csv").status_code == 403
    assert client.post(f"/official/settlements/{NOVEMBER}/bank-file/confirm").status_code == 403  # access rule
    auth.logout()
    client.set_cookie("linli_lang", "en")
    auth.login(factories.official())
    bad = client.get("/official/settlements/2026-13/bank-file.csv")
    assert bad.status_code == 400 and "There is no such month" in bad.get_data(as_text=True)
    assert client.post("/official/settlements/abc/bank-file/confirm").status_code == 400  # no such page: hand-made
    assert client.get("/official/settlements/2030-01").status_code == 400
