"""Officials' subsidy pages: the claims queue, a claim with its decisions, objections,
disbursement, the early stop, and the versioned policies."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import official_required
from app.audit import trail
from app.csv_export import csv_response
from app.db import write_transaction
from app.errors import Invalid, LinliError
from app.extensions import db
from app.money import fen_to_yuan
from app.uow import form_action
from billing.subsidies import obligations, policies, review
from billing.subsidies.forms import (
    ApproveForm,
    EarlyStopForm,
    NoteForm,
    PolicyForm,
    RejectForm,
    ResolveForm,
    TierCapForm,
    yuan_field_to_fen,
)
from billing.subsidies.models import CLAIM_STATUS_LABELS, ClaimStatus, SubsidyClaim, SubsidyObjection
from billing.subsidies.views import bp, local_time


@bp.route("/official/subsidies")
@official_required
def queue():
    """Claims to review (open ones by default; ``?status=`` filters) (200; 400 unknown status)."""
    status = request.args.get("status") or None
    try:
        rows = review.queue(db.session, status)
    except LinliError as error:
        abort(400, description=str(error))
    return render_template("subsidies/queue.html", claims=rows, status=status, statuses=CLAIM_STATUS_LABELS)


@bp.route("/official/subsidies.csv")
@official_required
def queue_csv():
    """The claims of the queue with its filter (``?status=``), every row (CSV; 400 unknown status)."""
    status = request.args.get("status") or None
    try:
        rows = review.queue(db.session, status)
    except LinliError as error:
        abort(400, description=str(error))
    return csv_response(f"subsidy-claims-{status or 'open'}.csv", [
        _("Claim"), _("Provider"), _("Project"), _("Project type"), _("Community"), _("Eligible amount (yuan)"),
        _("Approved amount (yuan)"), _("Status"), _("Filed at"), _("Public notice until")],
        ((c.id, c.provider.name, c.project.title, c.project.type_label, c.project.community.name,
          fen_to_yuan(c.eligible_fen), fen_to_yuan(c.approved_fen) if c.approved_fen is not None else None,
          c.status_label, local_time(c.filed_at), local_time(c.notice_ends_at)) for c in rows))


def _claim_or_404(claim_id: int) -> SubsidyClaim:
    claim = db.session.get(SubsidyClaim, claim_id)
    if claim is None:
        abort(404)
    return claim


def render_claim(claim: SubsidyClaim, *, forms: dict | None = None, status: int = 200):
    forms = forms or {}
    return render_template(
        "subsidies/claim.html", claim=claim, official_view=True, term_labels=policies.TERM_LABELS,
        obligation=obligations.obligation_of(db.session, claim.id), events=trail(db.session, "subsidy_claim", claim.id),
        note_form=forms.get("verify") or NoteForm(formdata=None),
        approve_form=forms.get("approve") or ApproveForm(formdata=None),
        reject_form=forms.get("reject") or RejectForm(formdata=None),
        resolve_form=forms.get("resolve") or ResolveForm(formdata=None),
        stop_form=forms.get("stop") or EarlyStopForm(formdata=None),
        notice_over=claim.status == ClaimStatus.NOTICE and claim.notice_ends_at <= review.now(),
        city_refusal=_text(review.city_step_refusal(claim, current_user)),
        objection_refusal=_text(review.objection_decision_refusal(claim, current_user)),
    ), status


def _text(refusal: LinliError | None) -> str | None:
    return None if refusal is None else str(refusal)


@bp.route("/official/subsidies/claims/<int:claim_id>")
@official_required
def claim(claim_id: int):
    """A claim with its computation, evidence, objections, trail and the decisions open now (200/404)."""
    return render_claim(_claim_or_404(claim_id))


def _decide(claim_id: int, key: str, form, action, success: str):
    claim = _claim_or_404(claim_id)
    if form.validate_on_submit():
        with form_action(form, lambda status: render_claim(db.session.get(SubsidyClaim, claim_id), forms={key: form},
                                                           status=status),
                         aliases={"amount_fen": "amount"}):
            with write_transaction(db.session):  # the tier-cap counter: BEGIN IMMEDIATE on SQLite
                action(form)
        flash(success, "success")
        return redirect(url_for("subsidies.claim", claim_id=claim.id))
    return render_claim(claim, forms={key: form}, status=422)


@bp.route("/official/subsidies/claims/<int:claim_id>/verify", methods=["POST"])
@official_required
def verify(claim_id: int):
    """District verification (redirect; 4xx with the reason, nothing changed)."""
    return _decide(claim_id, "verify", NoteForm(), lambda f: review.verify(
        db.session, claim_id, official=current_user, note=f.note.data or ""), _("The claim is verified."))


@bp.route("/official/subsidies/claims/<int:claim_id>/approve", methods=["POST"])
@official_required
def approve(claim_id: int):
    """City approval, in full or partial with a reason; starts the public notice."""

    def act(form):
        review.approve(db.session, claim_id, official=current_user,
                       amount_fen=yuan_field_to_fen(form.amount.data, "amount", required=False),
                       reason=form.reason.data or None)

    return _decide(claim_id, "approve", ApproveForm(), act, _("The claim is approved; its public notice has started."))


@bp.route("/official/subsidies/claims/<int:claim_id>/reject", methods=["POST"])
@official_required
def reject(claim_id: int):
    """Reject at the district or the city step, with the reason."""
    return _decide(claim_id, "reject", RejectForm(), lambda f: review.reject(
        db.session, claim_id, official=current_user, reason=f.reason.data or ""), _("The claim is rejected."))


@bp.route("/official/subsidies/claims/<int:claim_id>/disburse", methods=["POST"])
@official_required
def disburse(claim_id: int):
    """Pay now a claim whose notice is over (the scheduler does it too)."""
    return _decide(claim_id, "verify", NoteForm(), lambda f: review.disburse(
        db.session, claim_id, actor=current_user), _("The subsidy is paid."))


@bp.route("/official/subsidies/claims/<int:claim_id>/early-stop", methods=["POST"])
@official_required
def early_stop(claim_id: int):
    """Record an early stop of operation; the clawback is posted against the provider's settlements."""
    return _decide(claim_id, "stop", EarlyStopForm(), lambda f: obligations.record_early_stop(
        db.session, claim_id, official=current_user, stopped_on=f.stopped_on.data, reason=f.reason.data or ""),
        _("The early stop is recorded and the clawback posted."))


@bp.route("/official/subsidies/objections/<int:objection_id>/resolve", methods=["POST"])
@official_required
def resolve(objection_id: int):
    """Uphold or dismiss an objection."""
    objection = db.session.get(SubsidyObjection, objection_id)
    if objection is None:
        abort(404)
    return _decide(objection.claim_id, "resolve", ResolveForm(), lambda f: review.resolve_objection(
        db.session, objection_id, official=current_user, outcome=f.outcome.data or "", note=f.note.data or ""),
        _("The objection is resolved."))


# --- Policies ----------------------------------------------------------------------------


def _render_policies(forms: dict | None = None, status: int = 200):
    forms = forms or {}
    current = policies.current_policies(db.session)
    return render_template(
        "subsidies/policies.html", policies=current, caps=policies.current_tier_caps(db.session),
        history={p.project_type: policies.policy_versions(db.session, p.project_type) for p in current},
        policy_forms={p.project_type.value: forms.get(p.project_type.value) or PolicyForm(
            formdata=None, rate=str(fen_to_yuan(p.rate_fen)), share_percent=str(p.share_percent),
            category_cap=str(fen_to_yuan(p.category_cap_fen)), obligation_years=str(p.obligation_years)) for p in current},
        cap_forms={c.tier.value: forms.get(c.tier.value) or TierCapForm(formdata=None, cap=str(fen_to_yuan(c.cap_fen)))
                   for c in policies.current_tier_caps(db.session)},
    ), status


@bp.route("/official/subsidies/policies")
@official_required
def policy_list():
    """Current policies and tier caps with their versions, each editable (200)."""
    return _render_policies()


@bp.route("/official/subsidies/policies/<project_type>", methods=["POST"])
@official_required
def new_policy(project_type: str):
    """Save a new version of a project type's policy (redirect; 422 with the field)."""
    form = PolicyForm()
    if form.validate_on_submit():
        with form_action(form, lambda _status: _render_policies({project_type: form}, 422),
                         aliases={"rate_fen": "rate", "category_cap_fen": "category_cap"}):
            years = (form.obligation_years.data or "").strip()
            if not years.isdigit():
                raise Invalid(_("The operating obligation is 1 to 20 years."), field="obligation_years")
            policies.new_policy_version(
                db.session, project_type=project_type, rate_fen=yuan_field_to_fen(form.rate.data, "rate"),
                share_percent=form.share_percent.data or "", obligation_years=int(years),
                category_cap_fen=yuan_field_to_fen(form.category_cap.data, "category_cap"),
                note=form.note.data or "", actor=current_user)
        flash(_("A new version of the policy is saved; earlier claims keep theirs."), "success")
        return redirect(url_for("subsidies.policy_list"))
    return _render_policies({project_type: form}, 422)


@bp.route("/official/subsidies/tier-caps/<tier>", methods=["POST"])
@official_required
def new_tier_cap(tier: str):
    """Save a new version of a tier's yearly cap (redirect; 422 with the field)."""
    form = TierCapForm()
    if form.validate_on_submit():
        with form_action(form, lambda _status: _render_policies({tier: form}, 422), aliases={"cap_fen": "cap"}):
            policies.new_tier_cap_version(db.session, tier=tier, cap_fen=yuan_field_to_fen(form.cap.data, "cap"),
                                          note=form.note.data or "", actor=current_user)
        flash(_("A new version of the yearly cap is saved."), "success")
        return redirect(url_for("subsidies.policy_list"))
    return _render_policies({tier: form}, 422)
