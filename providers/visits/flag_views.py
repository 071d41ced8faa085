"""Officials' flag pages: the open anomaly flags, by rule and provider, each with its
evidence in words and a link to the visit; an official clears one with a reason.

The list is one query for the page of flags (with their bookings and providers
loaded in the same statement), one for the counts by rule and one for the providers
that have open flags: the number of queries does not grow with the number of flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import contains_eager
from wtforms import TextAreaField

from app.access import official_required
from app.csv_export import csv_response
from app.extensions import db
from app.i18n import format_local
from app.uow import apply_form_error, form_action
from providers.bookings.models import Booking
from providers.models import Provider
from providers.visits import flags
from providers.visits.models import FLAG_RULE_LABELS, FlagRule, VisitFlag

bp = Blueprint("visit_flags", __name__, template_folder="templates")

PAGE_SIZE = 25


class ClearFlagForm(FlaskForm):
    """Clear one flag: the reason is kept on it and in the audit trail."""

    reason = TextAreaField(_l("Reason for clearing"))


@dataclass
class FlagPage:
    items: list[VisitFlag]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _visits(ids) -> str:
    return "、".join(f"#{i}" for i in ids or ())


def evidence_words(flag: VisitFlag) -> str:
    """What the rule saw, in a sentence an official can check against the visit."""
    e = flag.evidence or {}
    rule = flag.rule
    if rule == FlagRule.NO_LOCATION:
        stages = {"check_in": _("check-in"), "check_out": _("check-out")}
        return _("No location was recorded at: %(stages)s.",
                 stages="、".join(stages.get(s, s) for s in e.get("missing", [])))
    if rule == FlagRule.OUTSIDE_RADIUS:
        def metres(value):
            return "—" if value is None else str(value)
        return _("Check-in %(check_in)s m and check-out %(check_out)s m from the resident's home "
                 "(allowed: %(radius)s m).", check_in=metres(e.get("check_in_distance_m")),
                 check_out=metres(e.get("check_out_distance_m")), radius=e.get("radius_m"))
    if rule == FlagRule.SHORT_DURATION:
        words = _("In service %(served)s minutes of the %(planned)s booked (minimum %(share)s%%).",
                  served=e.get("served_minutes"), planned=e.get("planned_minutes"), share=e.get("min_share_percent"))
        if e.get("reason"):
            words += " " + _("The carer's reason: %(reason)s", reason=e["reason"])
        return words
    if rule == FlagRule.NO_CODE:
        return _("Closed without the resident's visit code or a card code.")
    if rule == FlagRule.BACKFILLED:
        return _("Checked out %(minutes)s minutes after the visit's end (allowed: %(hours)s hours).",
                 minutes=e.get("minutes_after_end"), hours=e.get("limit_hours"))
    if rule == FlagRule.CARER_OVERLAP:
        return _("The same carer was in visit %(visits)s at the same time.", visits=_visits(e.get("visits")))
    if rule == FlagRule.SHARED_DEVICE:
        return _("One device checked in %(carers)s different carers within %(days)s days (visits %(visits)s).",
                 carers=e.get("carers"), days=e.get("window_days"), visits=_visits(e.get("visits")))
    if rule == FlagRule.SHARED_PLACE:
        return _("%(carers)s different carers checked in within %(radius)s m of each other on %(day)s "
                 "(visits %(visits)s).", carers=e.get("carers"), radius=e.get("radius_m"), day=e.get("day"),
                 visits=_visits(e.get("visits")))
    if rule == FlagRule.SAME_PHOTO:
        return _("The same photo is also on visit %(visits)s.", visits=_visits(e.get("visits")))
    if rule == FlagRule.BURST_CLOSURES:
        return _("%(count)s visits were closed within %(minutes)s minutes from one place (visits %(visits)s).",
                 count=e.get("visits_closed"), minutes=e.get("window_minutes"), visits=_visits(e.get("visits")))
    return _("The visit code was entered wrong too many times.")


def _filters() -> tuple[FlagRule | None, int | None, int]:
    """The list's filters from the query string (404 for an unknown rule)."""
    rule = None
    if request.args.get("rule"):
        try:
            rule = FlagRule(request.args["rule"])
        except ValueError:
            abort(404)
    try:
        provider_id = int(request.args["provider"]) if request.args.get("provider") else None
        page = min(max(int(request.args.get("page", 1)), 1), 10_000)
    except ValueError:
        abort(404)
    return rule, provider_id, page


def open_flags(session, rule: FlagRule | None, provider_id: int | None, page: int) -> FlagPage:
    """One page of open flags, newest first, with their bookings and providers."""
    base = _open_flags(rule, provider_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
    items = session.scalars(_listed(base).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return FlagPage(list(items), total, page, PAGE_SIZE)


def _open_flags(rule: FlagRule | None, provider_id: int | None):
    where = [VisitFlag.cleared_at.is_(None)]
    if rule is not None:
        where.append(VisitFlag.rule == rule)
    if provider_id is not None:
        where.append(Booking.provider_id == provider_id)
    return sa.select(VisitFlag).join(VisitFlag.booking).join(Booking.provider).where(*where)


def _listed(stmt):
    """The list's order, with each flag's booking and provider in the same statement."""
    return (stmt.options(contains_eager(VisitFlag.booking).contains_eager(Booking.provider))
            .order_by(VisitFlag.raised_at.desc(), VisitFlag.id.desc()))


def counts_by_rule(session, provider_id: int | None) -> dict[FlagRule, int]:
    stmt = sa.select(VisitFlag.rule, sa.func.count()).where(VisitFlag.cleared_at.is_(None)).group_by(VisitFlag.rule)
    if provider_id is not None:
        stmt = stmt.join(VisitFlag.booking).where(Booking.provider_id == provider_id)
    return {FlagRule(rule): n for rule, n in session.execute(stmt)}


def flagged_providers(session) -> list[tuple[int, str]]:
    return session.execute(
        sa.select(Provider.id, Provider.name).join(Booking, Booking.provider_id == Provider.id)
        .join(VisitFlag, VisitFlag.booking_id == Booking.id).where(VisitFlag.cleared_at.is_(None))
        .group_by(Provider.id, Provider.name).order_by(Provider.name)
    ).all()


def render_flags(*, failed: ClearFlagForm | None = None, failed_id: int | None = None, status: int = 200):
    rule, provider_id, page_number = _filters()
    page = open_flags(db.session, rule, provider_id, page_number)
    forms = {}
    for flag in page.items:
        if failed is not None and flag.id == failed_id:
            forms[flag.id] = failed
        else:
            forms[flag.id] = ClearFlagForm(formdata=None, prefix=f"flag-{flag.id}")
    return render_template(
        "visit_flags/flags.html", page=page, forms=forms, rule=rule, provider_id=provider_id,
        counts=counts_by_rule(db.session, provider_id), providers=flagged_providers(db.session),
        rules=list(FlagRule), labels=FLAG_RULE_LABELS, evidence_words=evidence_words,
        filters={k: v for k, v in (("rule", rule.value if rule else None), ("provider", provider_id),
                                   ("page", page_number if page_number > 1 else None)) if v is not None},
    ), status


@bp.route("/official/flags")
@official_required
def flag_list():
    """The open flags (``?rule=``, ``?provider=``, ``?page=``), 200; 404 for an unknown rule."""
    return render_flags()


@bp.route("/official/flags/<int:flag_id>/clear", methods=["POST"])
@official_required
def clear_flag(flag_id: int):
    """Clear one flag with a reason and return to the list with the filters the form was
    posted with (its action carries them); a missing reason re-renders that list with the
    message beside the box (422), a flag already cleared says so (409); 404 unknown flag."""
    # Locked: two officials clearing at once, the second is told it is cleared already.
    flag = db.session.scalar(sa.select(VisitFlag).where(VisitFlag.id == flag_id).with_for_update())
    if flag is None:
        abort(404)
    form = ClearFlagForm(prefix=f"flag-{flag_id}")
    with form_action(form, lambda status: render_flags(failed=form, failed_id=flag_id, status=status),
                     show=lambda error: apply_form_error(form if error.field == "reason" else None, error)):
        flags.clear_flag(db.session, flag, current_user, form.reason.data or "")
    flash(_("The flag on visit #%(booking)s is cleared.", booking=flag.booking_id), "success")
    rule, provider_id, page = _filters()
    return redirect(url_for("visit_flags.flag_list", rule=rule.value if rule else None, provider=provider_id,
                            page=page if page > 1 else None))


@bp.route("/official/flags.csv")
@official_required
def flag_list_csv():
    """Every open flag the list's ``?rule=&provider=`` select (all pages), newest first, as CSV."""
    rule, provider_id, _page = _filters()
    items = db.session.scalars(_listed(_open_flags(rule, provider_id))).all()
    header = [_("Flag"), _("Rule"), _("What was found"), _("Visit"), _("Provider"), _("Visit time"), _("Raised at")]
    rows = ([f.id, str(FLAG_RULE_LABELS[f.rule]), evidence_words(f), f.booking_id, f.booking.provider.name,
             format_local(f.booking.starts_at), format_local(f.raised_at)] for f in items)
    return csv_response("anomaly-flags.csv", header, rows)
