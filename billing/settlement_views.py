"""Statements, bank-transfer files and the officials' billing overview.

Provider staff see only their own provider's statements (another provider's
is never reachable: the provider comes from the caller); officials see every
provider's, the month's payouts with the bank file, and the overview with the
ledger's trial balance.  Months are ``YYYY-MM`` in the community's time zone.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import official_required, provider_staff_required
from app.auth.forms import EmptyForm
from app.clock import local
from app.errors import LinliError
from app.extensions import db
from app.csv_export import csv_response
from app.money import fen_to_yuan
from app.uow import form_action
from billing import payouts as payout_service
from billing.funding import registry as funding_registry
from billing.overview import billing_overview
from billing.payment_models import Payout, Settlement, SettlementLine
from billing.ledger import account_label
from billing.settlements import (Period, find_settlement, parse_period, payout_of, penalty_transactions,
                                 subsidy_transactions)
from providers import registration
from providers.bookings.models import Booking
from providers.models import Provider

bp = Blueprint("settlements", __name__, template_folder="templates")

def source_label(source: str) -> str:
    return {"gateway": _("Paid online"), "offline": _("Paid on site"), "direct": _("Paid outside Linli"),
            "late_fee": _("Late-cancellation fee, paid online"),
            "late_fee_offline": _("Late-cancellation fee, paid on site"),
            "programme": _("Purchase programme (contract price, no fee)")}.get(source, source)


@dataclass
class Statement:
    provider: Provider
    settlement: Settlement
    lines: list[SettlementLine]
    penalties: list
    payout: Payout | None
    subsidies: list
    # Visits named but not paid this month (pending, released, clawed back), by kind.
    notes: list = ()

    def notes_of(self, kind: str) -> list:
        return [note for note in self.notes if note.kind == kind]

    def collected(self, *sources: str) -> int:
        return sum(line.amount_fen for line in self.lines if line.source in sources)


def _period_or_400(text: str) -> Period:
    try:
        return parse_period(text, must_be_over=False)
    except LinliError as error:
        abort(400, description=str(error))


def load_statement(provider: Provider, period_text: str) -> Statement:
    """The provider's statement of the month; 400 for a bad month, 404 when it is not settled."""
    period = _period_or_400(period_text)
    settlement = find_settlement(db.session, provider.id, period)
    if settlement is None:
        abort(404, description=_("%(period)s has not been settled for this provider.", period=period.key))
    lines = list(db.session.scalars(
        sa.select(SettlementLine).options(joinedload(SettlementLine.settlement))
        .where(SettlementLine.settlement_id == settlement.id).order_by(SettlementLine.id)
    ))
    bookings = {b.id: b for b in db.session.scalars(
        sa.select(Booking).options(joinedload(Booking.listing))
        .where(Booking.id.in_([line.booking_id for line in lines]))
    )}
    for line in lines:
        line.booking = bookings[line.booking_id]
    notes = [note for rules in funding_registry.all() if rules.statement_notes is not None
             for note in rules.statement_notes(db.session, provider.id, period)]
    return Statement(provider, settlement, lines, penalty_transactions(db.session, provider.id, period),
                     payout_of(db.session, settlement), subsidy_transactions(db.session, provider.id, period),
                     notes)


def statement_csv(statement: Statement) -> Response:
    """The statement as CSV: one row per booking, then the totals (amounts in yuan)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    yuan = lambda fen: f"{fen_to_yuan(fen):.2f}"  # noqa: E731
    writer.writerow(["booking", "date", "service", "paid", "gross_yuan", "fee_yuan"])
    for line in statement.lines:
        writer.writerow([line.booking_id, local(line.booking.completed_at or line.booking.closed_at).date().isoformat(),
                         payout_service.spreadsheet_safe(line.booking.listing.title), line.source,
                         yuan(line.amount_fen), yuan(line.fee_fen)])
    s = statement.settlement
    writer.writerow([])
    for label, fen in (("gross", s.gross_fen), ("platform_fee", s.fee_fen), ("penalties", s.penalties_fen),
                       ("subsidies", s.subsidies_fen),
                       ("collected_by_provider", s.collected_offline_fen), ("net", s.net_fen)):
        writer.writerow([label, "", "", "", yuan(fen), ""])
    payout = statement.payout
    writer.writerow(["payout", "", "", payout.method if payout else "none",
                     yuan(payout.amount_fen) if payout else yuan(0), payout.status.value if payout else ""])
    if statement.notes:
        # Visits named but not paid this month: pending (carried forward), released, clawed back.
        writer.writerow([])
        writer.writerow(["not_paid", "booking", "date", "service", "amount_yuan", "reason", "release_unless_proven_by"])
        for note in statement.notes:
            writer.writerow([note.kind, note.booking_id, local(note.served_at).date().isoformat(),
                             payout_service.spreadsheet_safe(note.service), yuan(note.amount_fen),
                             payout_service.spreadsheet_safe(note.reason),
                             local(note.until).date().isoformat() if note.until else ""])
    name = f"statement-{statement.provider.id}-{s.period}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _render_statement(statement: Statement, *, csv_url: str, back_url: str):
    return render_template("billing/statement.html", st=statement, s=statement.settlement,
                           csv_url=csv_url, back_url=back_url, source_label=source_label)


def _settlement_list(provider_id: int) -> list[tuple[Settlement, Payout | None]]:
    return list(db.session.execute(
        sa.select(Settlement, Payout).outerjoin(Payout, Payout.settlement_id == Settlement.id)
        .where(Settlement.provider_id == provider_id).order_by(Settlement.period.desc())
    ).all())


# --- Provider staff ----------------------------------------------------------------


@bp.route("/provider/statements")
@provider_staff_required
def my_statements():
    """The caller's provider's settled months, newest first (200)."""
    provider = registration.provider_of(db.session, current_user)
    return render_template("billing/statements.html", provider=provider, rows=_settlement_list(provider.id),
                           official_view=False)


@bp.route("/provider/statements/<period>.csv")
@provider_staff_required
def my_statement_csv(period: str):
    """The caller's statement as CSV (400 bad month, 404 not settled)."""
    provider = registration.provider_of(db.session, current_user)
    return statement_csv(load_statement(provider, period))


@bp.route("/provider/statements/<period>")
@provider_staff_required
def my_statement(period: str):
    """The caller's statement of one month (200; 400 bad month; 404 not settled)."""
    provider = registration.provider_of(db.session, current_user)
    statement = load_statement(provider, period)
    return _render_statement(statement, csv_url=url_for("settlements.my_statement_csv", period=period),
                             back_url=url_for("settlements.my_statements"))


# --- Officials ----------------------------------------------------------------------


def _provider_or_404(provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        abort(404)
    return provider


@bp.route("/official/providers/<int:provider_id>/statements")
@official_required
def provider_statements(provider_id: int):
    """Any provider's settled months (200; 404 unknown provider)."""
    provider = _provider_or_404(provider_id)
    return render_template("billing/statements.html", provider=provider, rows=_settlement_list(provider.id),
                           official_view=True)


@bp.route("/official/providers/<int:provider_id>/statements/<period>.csv")
@official_required
def provider_statement_csv(provider_id: int, period: str):
    """Any provider's statement as CSV (400 bad month; 404 unknown provider or not settled)."""
    return statement_csv(load_statement(_provider_or_404(provider_id), period))


@bp.route("/official/providers/<int:provider_id>/statements/<period>")
@official_required
def provider_statement(provider_id: int, period: str):
    """Any provider's statement of one month (200; 400 bad month; 404 unknown provider or not settled)."""
    statement = load_statement(_provider_or_404(provider_id), period)
    return _render_statement(
        statement, csv_url=url_for("settlements.provider_statement_csv", provider_id=provider_id, period=period),
        back_url=url_for("settlements.provider_statements", provider_id=provider_id))


@bp.route("/official/billing")
@official_required
def overview():
    """Money in, refunds, payouts, outstanding payables and the trial balance (200)."""
    periods = list(db.session.execute(
        sa.select(Settlement.period, sa.func.count(Settlement.id), sa.func.sum(Settlement.net_fen))
        .group_by(Settlement.period).order_by(Settlement.period.desc()).limit(24)
    ).all())
    return render_template("billing/overview.html", view=billing_overview(db.session), periods=periods,
                           account_label=account_label)


def _render_period(period: Period, form: EmptyForm, status: int = 200):
    rows = db.session.execute(
        sa.select(Settlement, Provider, Payout).join(Provider, Provider.id == Settlement.provider_id)
        .outerjoin(Payout, Payout.settlement_id == Settlement.id)
        .where(Settlement.period == period.key).order_by(Provider.name)
    ).all()
    bank = payout_service.bank_rows(db.session, period.key)
    pending_bank = [r for r in bank if r.payout.status == "pending"]
    return render_template("billing/period.html", period=period, rows=rows, bank=bank,
                           pending_bank=pending_bank, form=form), status


@bp.route("/official/settlements/<period>")
@official_required
def period_settlements(period: str):
    """Every provider's settlement of a month with its payout (200; 400 bad month)."""
    return _render_period(_period_or_400(period), EmptyForm())


@bp.route("/official/settlements/<period>/bank-file.csv")
@official_required
def bank_file(period: str):
    """The month's bank-transfer file, one row per bank-file payout (400 bad month)."""
    parsed = _period_or_400(period)
    body = payout_service.bank_file_csv(payout_service.bank_rows(db.session, parsed.key))
    return Response("\ufeff" + body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="bank-transfers-{parsed.key}.csv"'})


@bp.route("/official/settlements/<period>/bank-file/confirm", methods=["POST"])
@official_required
def confirm_bank_file(period: str):
    """Mark the month's pending bank transfers paid (redirect; 400 bad month or form;
    409 when nothing is pending or the money is not there — nothing changes)."""
    parsed = _period_or_400(period)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return _render_period(parsed, form, 400)
    with form_action(None, lambda status: _render_period(parsed, form, status)):
        paid = payout_service.confirm_bank_file(db.session, parsed.key, actor=current_user)
    flash(_("%(n)d bank transfers are recorded as paid.", n=len(paid)), "success")
    return redirect(url_for("settlements.period_settlements", period=parsed.key))


# --- CSV lists of the officials' pages (every row; labels, yuan, Shanghai times) ----------


def payout_labels(payout: Payout | None) -> tuple[str, str, object]:
    """(status, method, amount in yuan) of a payout, as the pages' badge says it."""
    if payout is None:
        return _("No payout"), "", None
    status = {"paid": _("Paid"), "failed": _("Failed")}.get(payout.status.value, _("To pay"))
    method = _("Stripe transfer") if payout.method == "stripe_transfer" else _("Bank transfer")
    return status, method, fen_to_yuan(payout.amount_fen)


def _paid_at(payout: Payout | None):
    at = payout.paid_at if payout is not None else None
    return local(at).strftime("%Y-%m-%d %H:%M") if at else None


@bp.route("/official/billing/months.csv")
@official_required
def overview_months_csv():
    """Every settled month: providers settled and their net (the overview lists the last 24) (CSV)."""
    rows = db.session.execute(
        sa.select(Settlement.period, sa.func.count(Settlement.id), sa.func.sum(Settlement.net_fen))
        .group_by(Settlement.period).order_by(Settlement.period.desc())).all()
    return csv_response("settled-months.csv", [_("Month"), _("Providers"), _("Net (yuan)")],
                        ((period, count, fen_to_yuan(int(net or 0))) for period, count, net in rows))


@bp.route("/official/billing/trial-balance.csv")
@official_required
def trial_balance_csv():
    """The overview's trial balance: each account's balance against the sum of its entries (CSV)."""
    view = billing_overview(db.session)
    return csv_response("trial-balance.csv", [_("Account"), _("Account name"), _("Balance (yuan)"),
                                              _("Sum of entries (yuan)"), _("Check")],
                        ((row.account.code, account_label(row.account), fen_to_yuan(row.balance_fen),
                          fen_to_yuan(row.entries_fen), _("OK") if row.balance_fen == row.entries_fen else _("Mismatch"))
                         for row in view.trial_balance))


@bp.route("/official/settlements/<period>.csv")
@official_required
def period_settlements_csv(period: str):
    """Every provider's settlement of a month with its payout, as on the month's page (CSV; 400 bad month)."""
    parsed = _period_or_400(period)
    rows = db.session.execute(
        sa.select(Settlement, Provider, Payout).join(Provider, Provider.id == Settlement.provider_id)
        .outerjoin(Payout, Payout.settlement_id == Settlement.id)
        .where(Settlement.period == parsed.key).order_by(Provider.name)).all()
    return csv_response(f"settlements-{parsed.key}.csv", [
        _("Provider"), _("Bookings (count)"), _("Gross (yuan)"), _("Platform fee (yuan)"), _("Penalties (yuan)"),
        _("Subsidies (yuan)"), _("Collected by the provider (yuan)"), _("Net (yuan)"), _("Payout"),
        _("Payout method"), _("Payout amount (yuan)"), _("Paid at")],
        ((provider.name, s.booking_count, fen_to_yuan(s.gross_fen), fen_to_yuan(s.fee_fen), fen_to_yuan(s.penalties_fen),
          fen_to_yuan(s.subsidies_fen), fen_to_yuan(s.collected_offline_fen), fen_to_yuan(s.net_fen),
          *payout_labels(payout), _paid_at(payout)) for s, provider, payout in rows))


@bp.route("/official/providers/<int:provider_id>/statements.csv")
@official_required
def provider_statements_csv(provider_id: int):
    """A provider's settled months with their payouts, as on its statements page (CSV; 404 unknown provider)."""
    provider = _provider_or_404(provider_id)
    return csv_response(f"statements-{provider.id}.csv", [
        _("Month"), _("Bookings (count)"), _("Gross (yuan)"), _("Net (yuan)"), _("Payout"), _("Payout method"),
        _("Payout amount (yuan)"), _("Paid at")],
        ((s.period, s.booking_count, fen_to_yuan(s.gross_fen), fen_to_yuan(s.net_fen), *payout_labels(payout),
          _paid_at(payout)) for s, payout in _settlement_list(provider.id)))
