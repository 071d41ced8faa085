"""Officials' programme pages: create and edit, award, open and close, enrol, decide, budget.

Every change is a POST (CSRF) that calls a service, commits once and redirects
with a message; a refusal rolls back and shows the page again with the
message and the error's status (422 bad input, 409 a conflict), nothing written.
Public and resident pages are in :mod:`billing.programmes.resident_views`.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from babel.dates import format_skeleton
from flask_babel import get_locale
from markupsafe import Markup

from app.access import official_required
from app.audit import trail
from app.auth.views import community_choices
from app.errors import Invalid, LinliError, Problems
from app.extensions import db
from app.clock import local
from app.csv_export import csv_response
from app.money import fen_to_yuan, format_fen
from app.models import User
from app.uow import apply_form_error, commit, form_action
from billing.form_errors import add_problems, at_fault
from billing.programmes import budget as budget_view
from billing.programmes import eligibility, programmes, topups
from billing.programmes.forms import (
    FIELD_ALIASES,
    AwardForm,
    CsvForm,
    EnrolForm,
    EvaluationForm,
    EvaluatorForm,
    ProgrammeForm,
    ReasonForm,
    TopUpForm,
    parse_yuan,
)
from billing.programmes.models import EntitlementUse, PurchaseProgramme
from billing.programmes.programmes import ProgrammeTerms
from providers.models import ServiceCategory
from ratings.followups import appointments

bp = Blueprint("programmes", __name__, template_folder="templates")

SOURCE_LABELS = {"official": _l("Enrolled by an official"), "csv": _l("CSV upload"),
                 "application": _l("Resident's application")}


def _user() -> User:
    return current_user._get_current_object()


def _choices(form: ProgrammeForm) -> ProgrammeForm:
    form.categories.choices = [(c.id, c.name) for c in db.session.scalars(
        sa.select(ServiceCategory).order_by(ServiceCategory.sort_order))]
    form.communities.choices = community_choices()
    return form


def _fill(form: ProgrammeForm, programme: PurchaseProgramme) -> None:
    for name in ("title", "service_content", "start_date", "end_date", "stable_service", "quantity",
                 "quality_requirements", "settlement_method", "performance_targets", "breach_liability",
                 "allowance_per_month", "min_age", "requires_living_alone", "requires_low_income",
                 "requires_disability"):
        getattr(form, name).data = getattr(programme, name)
    form.unit_price.data = f"{programme.unit_price_fen / 100:.2f}"
    form.budget.data = f"{programme.budget_fen / 100:.2f}"
    form.categories.data = [c.id for c in programme.categories]
    form.communities.data = [c.id for c in programme.communities]
    form.listing_ids.data = ", ".join(str(x.id) for x in programme.listings)


def _checked(form: ProgrammeForm) -> ProgrammeTerms | None:
    """The typed terms when neither the form nor the service finds anything wrong; else None,
    with every problem on its field (the form's own message first, then the service's)."""
    form.validate()
    problems = Problems()
    terms = form.terms(problems)
    try:
        programmes.validate_terms(db.session, terms)
    except Problems as found:
        problems.extend(found)
    add_problems(form, problems, FIELD_ALIASES)
    return None if (problems or at_fault(form)) else terms


@bp.route("/official/programmes")
@official_required
def official_list():
    """Every programme, newest first, with its status."""
    return render_template("programmes/official_list.html", programmes=programmes.programmes(db.session))


@bp.route("/official/programmes/new", methods=["GET", "POST"])
@official_required
def create():
    """GET: the contract form. POST: create the draft (422 with the field's message on bad input)."""
    form = _choices(ProgrammeForm())
    if not form.is_submitted():
        return render_template("programmes/form.html", form=form, programme=None)
    terms = _checked(form)
    if terms is None:
        return render_template("programmes/form.html", form=form, programme=None), 422
    with form_action(form, lambda status: (render_template("programmes/form.html", form=form, programme=None),
                                           status), aliases=FIELD_ALIASES):
        programme = programmes.create_programme(db.session, _user(), terms)
        programme_id = programme.id
    flash(_("The programme is saved as a draft. Award it, then open it."), "success")
    return redirect(url_for("programmes.manage", programme_id=programme_id))


@bp.route("/official/programmes/<int:programme_id>/edit", methods=["GET", "POST"])
@official_required
def edit(programme_id: int):
    """Edit a draft's terms (409 once opened)."""
    programme = programmes.get_programme(db.session, programme_id)
    form = _choices(ProgrammeForm())
    if not form.is_submitted():
        _fill(form, programme)
        return render_template("programmes/form.html", form=form, programme=programme)
    terms = _checked(form)
    if terms is None:
        return render_template("programmes/form.html", form=form, programme=programme), 422

    def page(status: int):
        return render_template("programmes/form.html", form=form,
                               programme=programmes.get_programme(db.session, programme_id)), status

    with form_action(form, page, aliases=FIELD_ALIASES):
        programmes.update_programme(db.session, programme, _user(), terms)
    flash(_("The programme's terms are saved."), "success")
    return redirect(url_for("programmes.manage", programme_id=programme_id))


def _render_manage(programme: PurchaseProgramme, status: int = 200, **forms):
    award_form = forms.get("award_form") or AwardForm()
    award_form.provider_id.choices = [(p.id, p.name) for p in programmes.active_providers(db.session)]
    uses = list(db.session.scalars(sa.select(EntitlementUse).where(EntitlementUse.programme_id == programme.id)
                                   .order_by(EntitlementUse.id.desc()).limit(100)))
    return render_template(
        "programmes/manage.html", programme=programme, award_form=award_form,
        enrol_form=forms.get("enrol_form") or EnrolForm(), csv_form=forms.get("csv_form") or CsvForm(),
        reason_form=ReasonForm(), evaluation_form=forms.get("evaluation_form") or EvaluationForm(),
        topup_form=forms.get("topup_form") or TopUpForm(),
        evaluator_form=forms.get("evaluator_form") or EvaluatorForm(),
        evaluators=appointments.appointments_of(db.session, programme.id),
        enrolments=eligibility.enrolments(db.session, programme.id), csv_report=forms.get("csv_report"),
        events=trail(db.session, "programme", programme.id), uses=uses,
        source_labels=SOURCE_LABELS,
    ), status


@bp.route("/official/programmes/<int:programme_id>")
@official_required
def manage(programme_id: int):
    """The programme's terms, awards, enrolments, decisions and audit trail."""
    return _render_manage(programmes.get_programme(db.session, programme_id))


def _decide(programme_id: int, action, success: str, **render_forms):
    """Run ``action(programme)``; commit and redirect, or roll back and show why (at the top of
    the page, and on the field of the form that was sent)."""

    def show(error: LinliError) -> None:
        flash(str(error), "error")
        for form in render_forms.values():
            if form is not None:
                apply_form_error(form, error, FIELD_ALIASES)

    with form_action(None, lambda status: _render_manage(programmes.get_programme(db.session, programme_id),
                                                         status, **render_forms), show=show):
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        action(programme)
    flash(success, "success")
    return redirect(url_for("programmes.manage", programme_id=programme_id))


def _valid(form) -> bool:
    return form.validate_on_submit()


@bp.post("/official/programmes/<int:programme_id>/open")
@official_required
def open_(programme_id: int):
    """Open the programme (422 with budget 0 or no award)."""
    if not _valid(ReasonForm()):
        return redirect(url_for("programmes.manage", programme_id=programme_id))
    return _decide(programme_id, lambda p: programmes.open_programme(db.session, p, _user()),
                   _("The programme is open and published; its budget is committed."))


@bp.post("/official/programmes/<int:programme_id>/close")
@official_required
def close(programme_id: int):
    form = ReasonForm()
    if not _valid(form):
        return redirect(url_for("programmes.manage", programme_id=programme_id))
    return _decide(programme_id, lambda p: programmes.close_programme(db.session, p, _user(), form.reason.data),
                   _("The programme is closed: no new bookings; accepted visits are still served and paid."))


@bp.post("/official/programmes/<int:programme_id>/withdraw")
@official_required
def withdraw(programme_id: int):
    form = ReasonForm()
    if not _valid(form):
        return redirect(url_for("programmes.manage", programme_id=programme_id))
    return _decide(programme_id, lambda p: programmes.withdraw_programme(db.session, p, _user(), form.reason.data),
                   _("The draft is withdrawn."))


@bp.post("/official/programmes/<int:programme_id>/evaluation")
@official_required
def evaluate(programme_id: int):
    form = EvaluationForm()
    if not form.validate_on_submit():
        return _render_manage(programmes.get_programme(db.session, programme_id), 422, evaluation_form=form)
    return _decide(programme_id, lambda p: programmes.record_evaluation(db.session, p, _user(), form.result.data),
                   _("The evaluation result is recorded and published."), evaluation_form=form)


@bp.post("/official/programmes/<int:programme_id>/budget/top-up")
@official_required
def top_up(programme_id: int):
    """Add to an open programme's budget (amount in yuan, reason required); 422 with the
    field's message on bad input, 409 when the programme is not open — nothing changed."""
    form = TopUpForm()
    if not form.validate_on_submit():
        return _render_manage(programmes.get_programme(db.session, programme_id), 422, topup_form=form)

    def act(programme):
        amount = (form.amount.data or "").strip()
        amount_fen = parse_yuan(amount, "amount_fen") if amount else None
        topups.top_up(db.session, programme, _user(), amount_fen=amount_fen, reason=form.reason.data)

    return _decide(programme_id, act, _("The budget is topped up; the new amount is committed."), topup_form=form)


@bp.post("/official/programmes/<int:programme_id>/awards")
@official_required
def award(programme_id: int):
    """Award to an active provider at a contract price and quota (422 on bad input)."""
    form = AwardForm()
    form.provider_id.choices = [(p.id, p.name) for p in programmes.active_providers(db.session)]
    if not form.validate_on_submit():
        return _render_manage(programmes.get_programme(db.session, programme_id), 422, award_form=form)

    def act(programme):
        price = parse_yuan(form.contract_price.data, "contract_price")
        programmes.award(db.session, programme, _user(), provider_id=form.provider_id.data,
                         contract_price_fen=price, quota=form.quota.data)

    return _decide(programme_id, act, _("The programme is awarded."), award_form=form)


@bp.post("/official/programmes/<int:programme_id>/enrolments")
@official_required
def enrol(programme_id: int):
    """Enrol one resident by phone, with their eligibility facts (422 with the reason when not eligible)."""
    form = EnrolForm()
    if not form.validate_on_submit():
        return _render_manage(programmes.get_programme(db.session, programme_id), 422, enrol_form=form)
    return _decide(programme_id, lambda p: eligibility.enrol(db.session, p, _user(), phone=form.phone.data,
                                                             facts=form.facts()),
                   _("The resident is enrolled and notified."), enrol_form=form)


@bp.post("/official/programmes/<int:programme_id>/enrolments/upload")
@official_required
def upload(programme_id: int):
    """Enrol from a CSV: each good row is enrolled, each bad row reported (nothing else rejected)."""
    form = CsvForm()
    if not form.validate_on_submit():
        return redirect(url_for("programmes.manage", programme_id=programme_id))
    file = request.files.get("file")
    with form_action(form, lambda status: _render_manage(programmes.get_programme(db.session, programme_id),
                                                         status, csv_form=form), aliases=FIELD_ALIASES):
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        if file is None or not file.filename:
            raise Invalid(_("Choose a CSV file."), field="file")
        report = eligibility.enrol_csv(db.session, programme, _user(), file.read(2_000_001))
    good = sum(1 for row in report if row.ok)
    flash(_("%(good)d of %(total)d rows enrolled; see the report for the others.", good=good, total=len(report)),
          "success" if good == len(report) else "error")
    return _render_manage(programmes.get_programme(db.session, programme_id), 200, csv_report=report)


@bp.post("/official/programmes/<int:programme_id>/enrolments/<int:enrolment_id>/<any(approve,reject,withdraw):verb>")
@official_required
def decide(programme_id: int, enrolment_id: int, verb: str):
    """Approve or reject an application, or withdraw an enrolment (a reason is required to refuse)."""
    form = ReasonForm()
    if not _valid(form):
        return redirect(url_for("programmes.manage", programme_id=programme_id))

    def act(_programme):
        enrolment = eligibility.get_enrolment(db.session, programme_id, enrolment_id)
        if verb == "withdraw":
            eligibility.withdraw(db.session, enrolment, _user(), form.reason.data)
        else:
            eligibility.decide(db.session, enrolment, _user(), approve=verb == "approve", reason=form.reason.data)

    return _decide(programme_id, act, _("The decision is recorded and the resident notified."))


@bp.post("/official/programmes/<int:programme_id>/enrolments/<int:enrolment_id>/details")
@official_required
def details(programme_id: int, enrolment_id: int):
    """With a reason: the resident's sensitive eligibility details; the access is logged
    (who, whom, when, why).  Without a reason: back to the programme with a message (422)."""
    form = ReasonForm()
    enrolment = eligibility.get_enrolment(db.session, programme_id, enrolment_id)
    if not form.validate_on_submit() or not (form.reason.data or "").strip():
        flash(_("Say why you need the eligibility details: the reason is recorded."), "error")
        return _render_manage(enrolment.programme, 422)
    profile = eligibility.read_profile(db.session, _user(), enrolment.resident, form.reason.data.strip())
    commit(db.session)
    age = eligibility.age_on(profile.birth_date, budget_view.today()) if profile and profile.birth_date else None
    return render_template("programmes/details.html", enrolment=enrolment, profile=profile, age=age,
                           programme=enrolment.programme)


def _month(day) -> str:
    """A month as the reader's language writes it (2027年3月, March 2027)."""
    return format_skeleton("yMMMM", day, locale=get_locale())


@bp.route("/official/programmes/<int:programme_id>/budget")
@official_required
def budget(programme_id: int):
    """Committed, reserved, consumed, remaining; a chart of each week (or month) over the term
    with the same figures in a table; when it runs out at the rate of the last 8 weeks."""
    programme = programmes.get_programme(db.session, programme_id)
    figures = budget_view.figures(db.session, programme)
    chart = budget_view.chart_series(db.session, programme, figures.projection)
    svg = Markup("")
    if chart.points:
        last = chart.points[-1]
        svg = budget_view.chart_svg(
            chart, title=(_("Budget of %(title)s, week by week", title=programme.title) if chart.unit == "week"
                          else _("Budget of %(title)s, month by month", title=programme.title)),
            description=_("On %(day)s: committed %(committed)s, spent %(spent)s (reserved or consumed), remaining "
                          "%(remaining)s. The table below the chart gives the figures of each period.",
                          day=last.day.isoformat(), committed=format_fen(last.committed), spent=format_fen(last.spent),
                          remaining=format_fen(last.remaining)),
            today_label=_("today") if last.day == budget_view.today() else last.day.isoformat())
    runs_out = figures.projection.runs_out_on if figures.projection else None
    return render_template("programmes/budget.html", programme=programme, chart=chart, svg=svg, figures=figures,
                           projection=figures.projection, runs_out_month=_month(runs_out) if runs_out else None,
                           swatch=budget_view.swatch, on=budget_view.today())


@bp.post("/official/programmes/<int:programme_id>/evaluators")
@official_required
def appoint_evaluator(programme_id: int):
    """Appoint an evaluator by phone (422 no evaluator account; 409 already appointed)."""
    form = EvaluatorForm()
    if not form.validate_on_submit():
        return _render_manage(programmes.get_programme(db.session, programme_id), 422, evaluator_form=form)
    return _decide(programme_id,
                   lambda p: appointments.appoint_evaluator(db.session, p.id, _user(), form.phone.data),
                   _("The evaluator is appointed: they now see this programme's follow-up calls."),
                   evaluator_form=form)


@bp.post("/official/programmes/<int:programme_id>/evaluators/<int:appointment_id>/end")
@official_required
def end_evaluator(programme_id: int, appointment_id: int):
    """End an evaluator's appointment (404 not this programme's; 409 already ended)."""
    if not _valid(ReasonForm()):
        return redirect(url_for("programmes.manage", programme_id=programme_id))
    return _decide(programme_id,
                   lambda p: appointments.end_appointment(db.session, p.id, appointment_id, _user()),
                   _("The appointment has ended: the evaluator no longer sees this programme's calls."))


# --- CSV lists (what the pages list, every row; labels, yuan, Shanghai times) ---------------


def _yuan(fen: int | None):
    return None if fen is None else fen_to_yuan(fen)


def _at(at) -> str | None:
    return local(at).strftime("%Y-%m-%d %H:%M") if at else None


@bp.route("/official/programmes.csv")
@official_required
def official_list_csv():
    """Every programme, as on the list page (CSV)."""
    rows = ((p.id, p.title, p.status_label, p.start_date, p.end_date, _yuan(p.budget_fen),
             "、".join(c.name for c in p.communities), "、".join(a.provider.name for a in p.awards), _at(p.opened_at))
            for p in programmes.programmes(db.session))
    return csv_response("programmes.csv", [_("Number"), _("Programme"), _("Status"), _("Term: first day"),
                                           _("Term: last day"), _("Budget (yuan)"), _("Communities"),
                                           _("Awarded providers"), _("Opened at")], rows)


@bp.route("/official/programmes/<int:programme_id>/enrolments.csv")
@official_required
def enrolments_csv(programme_id: int):
    """The programme's enrolments, as on its page (CSV; no eligibility details: those are asked for, with a reason)."""
    programme = programmes.get_programme(db.session, programme_id)
    rows = ((e.id, e.resident.name, e.status_label, SOURCE_LABELS.get(e.source, e.source), e.reason,
             _at(e.applied_at), _at(e.decided_at)) for e in eligibility.enrolments(db.session, programme.id))
    return csv_response(f"programme-{programme.id}-enrolments.csv",
                        [_("Enrolment"), _("Resident"), _("Status"), _("How"), _("Reason"), _("Applied or enrolled at"),
                         _("Decided at")], rows)


@bp.route("/official/programmes/<int:programme_id>/awards.csv")
@official_required
def awards_csv(programme_id: int):
    """The programme's awards: provider, contract price, quota and what is used of it (CSV)."""
    programme = programmes.get_programme(db.session, programme_id)
    rows = ((a.id, a.provider.name, _yuan(a.contract_price_fen), a.quota, a.quota_used, _at(a.awarded_at))
            for a in sorted(programme.awards, key=lambda a: a.id))
    return csv_response(f"programme-{programme.id}-awards.csv",
                        [_("Award"), _("Provider"), _("Contract price (yuan)"), _("Quota (visits)"), _("Visits used"),
                         _("Awarded at")], rows)


@bp.route("/official/programmes/<int:programme_id>/entitlements.csv")
@official_required
def entitlements_csv(programme_id: int):
    """Every visit booked with the programme's entitlements (the page shows the last 100) (CSV)."""
    programme = programmes.get_programme(db.session, programme_id)
    uses = db.session.scalars(sa.select(EntitlementUse).where(EntitlementUse.programme_id == programme.id)
                              .order_by(EntitlementUse.id.desc()))
    rows = ((u.booking_id, u.month, u.award.provider.name, _yuan(u.amount_fen), _yuan(u.deduction_fen or 0),
             u.status_label, _at(u.created_at)) for u in uses)
    return csv_response(f"programme-{programme.id}-entitlements.csv",
                        [_("Booking"), _("Month"), _("Provider"), _("Amount (yuan)"), _("Deduction (yuan)"), _("Status"),
                         _("Booked at")], rows)
