"""Payouts: paying a settlement's positive net to the provider.

One :class:`Payout` per settlement (a unique constraint), made by
:func:`billing.settlements.settle`.  Two ways to pay:

``stripe_transfer``
    the provider has a Stripe connected account and Linli runs the Stripe
    gateway: ``billing.jobs.send_payout`` — run AFTER the settlement is committed,
    by the payout job or ``flask settle`` — reads the payout (:func:`transfer_order`),
    asks the gateway for a Connect transfer with the payout's idempotency key
    (``payout:<id>``) with no transaction open and no row locked
    (:func:`ask_gateway`), then records the answer under the payout's row lock in
    a short transaction of its own (:func:`record_transfer`).  Only a successful
    transfer posts Dr payable / Cr ``gateway_clearing:stripe`` (ledger key
    ``settlement:<id>:payout``).  A gateway error marks the payout failed
    (attempts + 1, last error); a retry sends the same key, so Stripe pays once
    and the ledger posts once.
``bank_file``
    no connected account, or the offline gateway: an official downloads the
    bank-transfer file of the month, makes the transfers at the bank and
    confirms; :func:`confirm_bank_file` marks the month's pending bank payouts
    paid and posts Dr payable / Cr ``gateway_clearing:<configured gateway>``
    (where Linli holds the money).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.csv_export import spreadsheet_safe
from app.errors import Conflict, NotFound
from app.money import fen_to_yuan
from billing import ledger
from billing.payment_models import Payout, PayoutAccount, PayoutStatus, Settlement
from providers.models import Provider

STRIPE_TRANSFER = "stripe_transfer"
BANK_FILE = "bank_file"
MAX_AUTOMATIC_ATTEMPTS = 5  # the job stops retrying a transfer after this; an official can still look


def gateway_name() -> str:
    """The configured gateway's name (``offline`` when none is set up)."""
    gateway = current_app.extensions.get("linli.gateway")
    if gateway is not None:
        return gateway.name
    return str(current_app.config.get("LINLI_PAYMENT_GATEWAY") or "offline")


def create_payout(session: Session, settlement: Settlement) -> Payout:
    """The settlement's payout (pending), choosing Stripe or the bank file."""
    account = session.get(PayoutAccount, settlement.provider_id)
    use_stripe = account is not None and bool(account.stripe_account_id) and gateway_name() == "stripe"
    payout = Payout(settlement_id=settlement.id, provider_id=settlement.provider_id,
                    method=STRIPE_TRANSFER if use_stripe else BANK_FILE,
                    amount_fen=settlement.net_fen, status=PayoutStatus.PENDING, attempts=0)
    session.add(payout)
    session.flush()
    return payout


def _post_payout(session: Session, payout: Payout, gateway: str) -> None:
    ledger.post(session, kind="payout", cause_type="settlement", cause_id=payout.settlement_id,
                lines=[(ledger.provider_payable_code(payout.provider_id), payout.amount_fen),
                       (ledger.gateway_code(gateway), -payout.amount_fen)],
                idempotency_key=f"settlement:{payout.settlement_id}:payout", memo=f"Payout {payout.id}")


@dataclass(frozen=True)
class TransferOrder:
    """What the gateway is asked for one Stripe payout (read before the call, no row held)."""

    payout_id: int
    amount_fen: int
    currency: str
    destination: str | None  # the connected account; None when the provider has none any more
    idempotency_key: str
    description: str


def transfer_order(session: Session, payout_id: int) -> TransferOrder | None:
    """The transfer to ask for a pending or failed Stripe payout; None when it is paid (reads only).

    Raises NotFound for an unknown payout, Conflict for a bank-file payout (paid by confirmation).
    """
    payout = session.get(Payout, payout_id)
    if payout is None:
        raise NotFound(_l("There is no such payout."))
    if payout.status == PayoutStatus.PAID:
        return None
    if payout.method != STRIPE_TRANSFER:
        raise Conflict(_l("A bank-file payout is paid when an official confirms the bank transfers."))
    account = session.get(PayoutAccount, payout.provider_id)
    settlement = session.get(Settlement, payout.settlement_id)
    return TransferOrder(payout_id=payout.id, amount_fen=payout.amount_fen,
                         currency=current_app.config.get("STRIPE_CURRENCY", "cny"),
                         destination=account.stripe_account_id if account is not None else None,
                         idempotency_key=payout.idempotency_key,
                         description=f"Linli settlement {settlement.period}")


def ask_gateway(order: TransferOrder) -> str:
    """Ask the gateway for the transfer (outside any transaction); its id. Raises GatewayError."""
    from billing.gateways import get_gateway

    return get_gateway().transfer(amount_fen=order.amount_fen, currency=order.currency,
                                  destination=order.destination, idempotency_key=order.idempotency_key,
                                  description=order.description)


def record_transfer(session: Session, order: TransferOrder, *, transfer_id: str | None = None,
                    error: str | None = None) -> Payout:
    """Record the gateway's answer on the payout, read again under its row lock (flushes).

    ``paid`` (posted once) after a transfer, ``failed`` with ``last_error`` after an error;
    each answer counts an attempt.  A payout paid meanwhile is left as it is.
    """
    payout = session.scalar(sa.select(Payout).where(Payout.id == order.payout_id)
                            .with_for_update().execution_options(populate_existing=True))
    if payout.status == PayoutStatus.PAID:
        return payout
    payout.attempts += 1
    if transfer_id is None:
        payout.status = PayoutStatus.FAILED
        payout.last_error = (error or "the gateway did not answer")[:300]
        session.flush()
        return payout
    payout.status = PayoutStatus.PAID
    payout.gateway_ref = transfer_id
    payout.paid_at = now()
    payout.last_error = None
    _post_payout(session, payout, "stripe")
    session.flush()
    return payout


def pending_stripe_payouts(session: Session, period: str | None = None) -> list[int]:
    """Ids of Stripe payouts still to send (pending, or failed fewer than the automatic attempts)."""
    stmt = (sa.select(Payout.id).where(Payout.method == STRIPE_TRANSFER,
                                       Payout.status.in_([PayoutStatus.PENDING, PayoutStatus.FAILED]),
                                       Payout.attempts < MAX_AUTOMATIC_ATTEMPTS).order_by(Payout.id))
    if period is not None:
        stmt = stmt.join(Settlement, Settlement.id == Payout.settlement_id).where(Settlement.period == period)
    return list(session.scalars(stmt))


@dataclass
class BankRow:
    payout: Payout
    provider: Provider
    account: PayoutAccount | None


def bank_rows(session: Session, period: str) -> list[BankRow]:
    """The month's bank-file payouts with their provider and bank details (one query)."""
    rows = session.execute(
        sa.select(Payout, Provider, PayoutAccount)
        .join(Settlement, Settlement.id == Payout.settlement_id)
        .join(Provider, Provider.id == Payout.provider_id)
        .outerjoin(PayoutAccount, PayoutAccount.provider_id == Payout.provider_id)
        .where(Settlement.period == period, Payout.method == BANK_FILE)
        .order_by(Provider.name, Payout.id)
    ).all()
    return [BankRow(payout, provider, account) for payout, provider, account in rows]


BANK_FILE_HEADER = ["payout", "provider", "credit_code", "bank", "account_no", "account_holder",
                    "amount_yuan", "status"]


def bank_file_csv(rows: list[BankRow]) -> str:
    """The bank-transfer file: one row per payout, amounts in yuan with 2 decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_FILE_HEADER)
    for row in rows:
        account = row.account
        writer.writerow([
            row.payout.id, spreadsheet_safe(row.provider.name), row.provider.credit_code,
            spreadsheet_safe(account.bank_name if account else ""), spreadsheet_safe(account.bank_account_no if account else ""),
            spreadsheet_safe(account.account_holder if account else ""), f"{fen_to_yuan(row.payout.amount_fen):.2f}",
            row.payout.status.value,
        ])
    return out.getvalue()


def confirm_bank_file(session: Session, period: str, *, actor) -> list[Payout]:
    """Mark the month's pending bank-file payouts paid (an official made the transfers).

    Posts each payout once and records an audit event per payout.  Raises
    Conflict when nothing is pending (nothing changes).
    """
    pending = list(session.scalars(
        sa.select(Payout).join(Settlement, Settlement.id == Payout.settlement_id)
        .where(Settlement.period == period, Payout.method == BANK_FILE, Payout.status == PayoutStatus.PENDING)
        .order_by(Payout.id).with_for_update()
    ))
    if not pending:
        raise Conflict(_l("No bank transfers of %(period)s are waiting for confirmation.", period=period))
    source = gateway_name()
    for payout in pending:
        _post_payout(session, payout, source)
        payout.status = PayoutStatus.PAID
        payout.paid_at = now()
        payout.attempts += 1
        audit.record(session, actor=actor, action="payout.bank_transfer_confirmed", object_type="payout",
                     object_id=payout.id, before={"status": "pending"},
                     after={"status": "paid", "amount_fen": payout.amount_fen})
    session.flush()
    return pending
