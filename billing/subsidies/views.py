"""Subsidy pages for providers (projects, claims), anyone logged in (public notices,
objections) and the evidence download.  Officials' pages: official_views.py.

Views are thin: parse, call the service, commit once; a refusal rolls back and
re-renders with the message on its field (4xx), nothing changed.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import login_required, provider_staff_required, public
from app.clock import local, today
from app.csv_export import csv_response
from app.db import write_transaction
from app.errors import Invalid, LinliError, Problems
from app.extensions import db
from app.money import fen_to_yuan
from app.uow import form_action
from billing.subsidies import claims, policies, projects, review
from billing.subsidies.forms import ClaimForm, ObjectionForm, ProjectForm, yuan_field_to_fen
from billing.subsidies.models import ClaimStatus, EvidenceKind, SubsidyClaim
from providers import registration, uploads

bp = Blueprint("subsidies", __name__, template_folder="templates")


def _my_provider():
    return registration.provider_of(db.session, current_user)


# --- Provider staff --------------------------------------------------------------------


@bp.route("/provider/subsidies")
@provider_staff_required
def my_subsidies():
    """The provider's registered projects and claims, with the current policies (200)."""
    provider = _my_provider()
    return render_template("subsidies/my.html", provider=provider, projects=projects.projects_of(db.session, provider),
                           policies=policies.current_policies(db.session))


@bp.route("/provider/subsidies/projects/new", methods=["GET", "POST"])
@provider_staff_required
def new_project():
    """Register a project before building (200 form; redirect when saved; 422 refused)."""
    provider = _my_provider()
    form = ProjectForm()
    form.fill_choices()

    def page(_status: int = 200):
        status = 422 if form.is_submitted() else 200
        return render_template("subsidies/project_form.html", form=form, provider=provider,
                               policies=policies.current_policies(db.session)), status

    if form.is_submitted() and (form.validate() or not _expired(form)):
        seeded = _form_problems(form)
        with form_action(form, page, aliases={"planned_investment_fen": "planned_investment"}):
            investment = _yuan(seeded, form.planned_investment.data, "planned_investment_fen")
            data = projects.ProjectInput(
                community_id=form.community_id.data or None, project_type=form.project_type.data,
                title=form.title.data or "", planned_quantity=form.planned_quantity.data or "",
                planned_investment_fen=investment)
            project = projects.register_project(db.session, provider, data, actor=current_user, problems=seeded)
        flash(_("The project is registered. File the claim after its acceptance."), "success")
        return redirect(url_for("subsidies.my_project", project_id=project.id))
    return page()


def _render_project(project, form: ClaimForm | None = None, status: int = 200):
    policy = policies.current_policy(db.session, project.project_type)
    return render_template("subsidies/project.html", project=project, policy=policy,
                           tier_cap=policies.current_tier_cap(db.session, project.community.tier),
                           awarded=policies.awarded_in(db.session, project.community_id, today().year),
                           form=form or ClaimForm(formdata=None),
                           max_size=uploads.readable_size(current_app.config["DOCUMENT_MAX_BYTES"])), status


@bp.route("/provider/subsidies/projects/<int:project_id>")
@provider_staff_required
def my_project(project_id: int):
    """One of the provider's projects, with the claim form or its claim (200; 404 not ours)."""
    try:
        project = projects.own_project(db.session, _my_provider(), project_id)
    except LinliError:
        abort(404)
    return _render_project(project)


@bp.route("/provider/subsidies/projects/<int:project_id>/claim", methods=["POST"])
@provider_staff_required
def file_claim(project_id: int):
    """File the project's claim with its evidence: redirect to the claim, or re-render
    the project with the message on its field (4xx; no file and no row stay)."""
    provider = _my_provider()
    try:
        project = projects.own_project(db.session, provider, project_id)
    except LinliError:
        abort(404)
    form = ClaimForm()
    if not form.validate_on_submit() and _expired(form):
        return _render_project(project, form, 422)
    seeded = _form_problems(form)  # the form's own (a date that does not parse), shown with the service's
    stored = []
    with form_action(form, lambda status: _render_project(project, form, status),
                     aliases={"verified_investment_fen": "verified_investment", "requested_fen": "requested"},
                     on_failure=lambda: claims.discard_all(stored)):
        problems = seeded  # every problem at once: the files, the amounts, the figures
        files = []
        if form.acceptance_certificate.data:
            upload = form.acceptance_certificate.data
            files.append((EvidenceKind.ACCEPTANCE_CERTIFICATE, upload.stream, upload.filename))
        for kind, field in ((EvidenceKind.INVOICE, form.invoices), (EvidenceKind.PHOTO, form.photos)):
            files += [(kind, f.stream, f.filename) for f in (field.data or []) if f and f.filename]
        try:
            stored = claims.store_evidence(files)
        except Invalid as error:
            problems.extend(error)
        investment = _yuan(problems, form.verified_investment.data, "verified_investment_fen")
        requested = _yuan(problems, form.requested.data, "requested_fen", required=False)
        data = claims.ClaimInput(
            accepted_on=form.accepted_on.data, verified_quantity=form.verified_quantity.data or "",
            verified_investment_fen=investment, requested_fen=requested, evidence=stored)
        claim = claims.file_claim(db.session, provider, project.id, data, actor=current_user, problems=problems)
    flash(_("The claim is filed; the district verifies it next."), "success")
    return redirect(url_for("subsidies.my_claim", claim_id=claim.id))


def _expired(form) -> bool:
    """The form's CSRF token was refused (the page is shown again with that error alone)."""
    token = getattr(form, "csrf_token", None)
    return bool(token is not None and token.errors)


def _form_problems(form) -> Problems:
    """The form's own refusals, moved into a :class:`Problems` the service adds to (so that a
    field is not refused twice and every refusal is shown once, on its field)."""
    problems = Problems()
    for f in form:
        for message in f.errors:
            problems.add(message, field=f.name)
        f.errors = []
    return problems


def _yuan(problems: Problems, text: str | None, field: str, *, required: bool = True) -> int | None:
    """A typed yuan amount in fen, or None with the refusal added to ``problems``."""
    try:
        return yuan_field_to_fen(text, field, required=required)
    except Invalid as error:
        problems.extend(error)
        return None


@bp.route("/provider/subsidies/claims/<int:claim_id>")
@provider_staff_required
def my_claim(claim_id: int):
    """The provider's claim: status, every term of the computation, evidence, decisions (200; 404 not ours)."""
    try:
        claim = claims.own_claim(db.session, _my_provider(), claim_id)
    except LinliError:
        abort(404)
    from billing.subsidies.obligations import obligation_of

    return render_template("subsidies/claim.html", claim=claim, official_view=False,
                           obligation=obligation_of(db.session, claim.id), term_labels=policies.TERM_LABELS)


# --- Everyone: the public notice (objecting needs a log-in) ----------------------------------


@bp.route("/subsidies/notices")
@public
def notices():
    """Claims in public notice (or paused by an objection), for anyone, logged in or not (200):
    project, provider, community, amount, notice period; nothing personal."""
    return render_template("subsidies/notices.html", claims=review.in_notice(db.session))


def local_time(at) -> str | None:
    """A stored time as the community reads it (Asia/Shanghai), for CSV cells."""
    return local(at).strftime("%Y-%m-%d %H:%M") if at else None


@bp.route("/subsidies/notices.csv")
@public
def notices_csv():
    """The claims in public notice, as on the page (CSV, for anyone: nothing personal)."""
    return csv_response("subsidy-public-notices.csv", [
        _("Claim"), _("Project"), _("Project type"), _("Provider"), _("Community"), _("Approved amount (yuan)"),
        _("Notice from"), _("Objections until"), _("Status")],
        ((c.id, c.project.title, c.project.type_label, c.provider.name, c.project.community.name,
          fen_to_yuan(c.approved_fen), local_time(c.city_decided_at), local_time(c.notice_ends_at), c.status_label)
         for c in review.in_notice(db.session)))


def _render_notice(claim, form: ObjectionForm | None = None, status: int = 200):
    refusal = (review.objection_refusal(db.session, claim, current_user) if current_user.is_authenticated
               else None)
    return render_template("subsidies/notice.html", claim=claim, form=form or ObjectionForm(formdata=None),
                           refusal=None if refusal is None else str(refusal),
                           term_labels=policies.TERM_LABELS), status


def _notice_claim(claim_id: int):
    claim = db.session.get(SubsidyClaim, claim_id)
    if claim is None or claim.status not in (ClaimStatus.NOTICE, ClaimStatus.OBJECTED, ClaimStatus.DISBURSED):
        abort(404)
    return claim


@bp.route("/subsidies/notices/<int:claim_id>")
@public
def notice(claim_id: int):
    """One claim's public notice, for anyone (200; 404 when not published): what is subsidised,
    by whom, how much, the notice period and how to object; the objection form for a
    logged-in user who may object, the reason for one who may not, a log-in link otherwise."""
    return _render_notice(_notice_claim(claim_id))


@bp.route("/subsidies/notices/<int:claim_id>/object", methods=["POST"])
@login_required
def object_to(claim_id: int):
    """Object during the notice: redirect back, or the message with 4xx (nothing changed):
    403 for anyone but a resident of the project's community, 409 for a second objection."""
    claim = _notice_claim(claim_id)
    form = ObjectionForm()
    if form.validate_on_submit():
        with form_action(form, lambda status: _render_notice(db.session.get(SubsidyClaim, claim_id), form, status)):
            with write_transaction(db.session):  # BEGIN IMMEDIATE on SQLite; the claim's row lock on PostgreSQL
                review.object_to(db.session, claim.id, user=current_user, text=form.text.data or "")
        flash(_("Your objection is recorded; an official will look into it."), "success")
        return redirect(url_for("subsidies.notice", claim_id=claim_id))
    return _render_notice(claim, form, 422)


@bp.route("/subsidies/evidence/<int:evidence_id>")
@login_required
def evidence_download(evidence_id: int):
    """An evidence file, for its provider's staff and officials; 404 for anyone else."""
    try:
        evidence = claims.evidence_for(db.session, evidence_id, current_user)
        path = uploads.document_path(evidence.stored_name)
    except LinliError:
        abort(404)
    if not path.is_file():
        abort(404)
    return send_file(io.BytesIO(path.read_bytes()), mimetype=evidence.content_type, as_attachment=True,
                     download_name=evidence.original_name)
