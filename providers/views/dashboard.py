"""The provider's own pages: status, details, qualification documents, resubmission;
and the download of a document (its provider's staff and officials only)."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.access import login_required, provider_staff_required
from app.auth.forms import EmptyForm
from app.clock import today
from app.extensions import db
from app.uow import form_action
from providers import checklist, registration, uploads
from providers.carers import expiry
from providers.forms import DocumentForm, ProviderDetailsForm
from providers.models import ChangeStatus, ProviderStatus, ServiceCategory
from providers.views import bp
from providers.views.changes import change_rows

# Statuses in which the official's reason is shown to the provider.
STATUSES_WITH_REASON = (ProviderStatus.REJECTED, ProviderStatus.SUSPENDED, ProviderStatus.REMOVED)


def _my_provider():
    return registration.provider_of(db.session, current_user)


def render_dashboard(provider, *, document_form: DocumentForm | None = None, status: int = 200):
    """The dashboard page of ``provider`` with the given HTTP status."""
    change = registration.open_change(db.session, provider)
    decided = registration.last_decided_change(db.session, provider)
    first_steps = checklist.steps(db.session, provider, today())
    return render_template(
        "providers/dashboard.html",
        provider=provider,
        change=change,
        change_rows=change_rows(db.session, change) if change is not None else [],
        rejected_change=decided if change is None and decided is not None
        and decided.status == ChangeStatus.REJECTED else None,
        qualifications=registration.qualifications_needed(provider.categories),
        show_reason=provider.status in STATUSES_WITH_REASON and provider.status_reason,
        can_edit=registration.can_edit(provider),
        can_upload=registration.can_upload(provider),
        can_resubmit=provider.status == ProviderStatus.REJECTED,
        document_form=document_form or DocumentForm(formdata=None),
        empty_form=EmptyForm(),
        today=today(),
        expiring=expiry.expiring(db.session, provider.id, today()),
        first_steps=first_steps,
        first_steps_headline=checklist.headline(provider, first_steps),
        max_size=uploads.readable_size(current_app.config["DOCUMENT_MAX_BYTES"]),
    ), status


@bp.route("/provider")
@provider_staff_required
def dashboard():
    """The staff member's organisation: status, reason, details, documents (200)."""
    return render_dashboard(_my_provider())


@bp.route("/provider/documents", methods=["POST"])
@provider_staff_required
def upload_document():
    """Store a qualification document and redirect to the dashboard; refused
    input re-renders the dashboard with the message on its field (422), and
    then no file and no row stay behind."""
    provider = _my_provider()
    form = DocumentForm()
    if not form.validate_on_submit():
        return render_dashboard(provider, document_form=form, status=422)
    upload = form.file.data
    stored = None

    def discard_file():
        if stored is not None:
            uploads.discard(stored)

    # A refusal is a 422; the upload folder's own (507 full, 503 not writable) keep their status.
    with form_action(form, lambda status: render_dashboard(provider, document_form=form,
                                                            status=status if status in (503, 507) else 422),
                     on_failure=discard_file):
        stored = uploads.save_document(
            upload.stream if upload else io.BytesIO(), upload.filename if upload else None
        )
        registration.add_document(
            db.session, provider, stored, kind=form.kind.data, expires_on=form.expires_on.data,
            actor=current_user,
        )
    if provider.status in registration.VETTED_STATUSES:
        flash(_("The document is uploaded and sent to the district for review; it counts once approved."),
              "success")
    else:
        flash(_("The document is uploaded."), "success")
    return redirect(url_for("providers.dashboard"))


@bp.route("/provider/edit", methods=["GET", "POST"])
@provider_staff_required
def edit_details():
    """The organisation's details, pre-filled (200); saved with a redirect to the
    dashboard, or refused with the message on its field (422, nothing changed).
    A suspended or removed provider is sent back to the dashboard (409 on POST)."""
    provider = _my_provider()
    if not registration.can_edit(provider):
        flash(_("A suspended or removed provider cannot change its details."), "error")
        if request.method == "POST":
            return render_dashboard(provider, status=409)
        return redirect(url_for("providers.dashboard"))
    change = registration.open_change(db.session, provider)
    # An approved organisation's credit code is fixed: the page shows it, not an input, and
    # what is saved is the code in force (the service refuses a change with 409 anyway).
    code_fixed = provider.status == ProviderStatus.ACTIVE
    if request.method == "POST":
        form = ProviderDetailsForm()
        if code_fixed:
            form.credit_code.data = provider.credit_code
    else:
        # An open change request is what the provider edits: its proposal, over what is in force.
        proposed = change.proposed if change is not None else {}
        categories = registration.proposed_categories(db.session, change) if change is not None else None
        form = ProviderDetailsForm(
            obj=provider,
            name=proposed.get("name", provider.name),
            legal_representative=proposed.get("legal_representative", provider.legal_representative),
            category_ids=[category.id for category in (categories if categories is not None else provider.categories)],
            community_ids=[community.id for community in provider.communities],
        )
    form.fill_choices()
    vetted = provider.status in registration.VETTED_STATUSES

    def page(_status: int = 200):
        status = 422 if request.method == "POST" else 200
        return render_template(
            "providers/dashboard_edit.html", form=form, provider=provider, vetted=vetted, change=change,
            code_fixed=code_fixed,
            qualifications=registration.qualifications_needed(
                [c for c in db.session.scalars(sa.select(ServiceCategory).order_by(ServiceCategory.sort_order))]),
        ), status

    if form.validate_on_submit():
        try:
            with form_action(form, page):
                change = registration.update_details(db.session, provider, form.details(), actor=current_user)
        except IntegrityError:  # rolled back by form_action
            # Another save of this organisation filed a change request a moment ago (one open
            # request per provider: uq_provider_change_pending).
            flash(_("Your organisation's details were changed a moment ago. Check them and save again."), "error")
            return render_template("providers/dashboard_edit.html", form=form, provider=provider,
                                   vetted=vetted, change=None, qualifications=[], code_fixed=code_fixed), 409
        if change is not None and change.status == ChangeStatus.PENDING:
            flash(_("Your contact details are saved. The changes to what the district vetted (name, legal "
                    "representative, service categories) are sent for review: until the district approves "
                    "them, your current details stay in force."), "success")
        else:
            flash(_("The details are saved."), "success")
        return redirect(url_for("providers.dashboard"))
    return page()


@bp.route("/provider/changes/withdraw", methods=["POST"])
@provider_staff_required
def withdraw_change():
    """Take back the change request waiting for review: redirect to the dashboard;
    409 (nothing changed) when there is none."""
    provider = _my_provider()
    with form_action(None, lambda status: render_dashboard(provider, status=status)):
        registration.withdraw_change(db.session, provider, actor=current_user)
    flash(_("Your change request is withdrawn; your details stay as they are."), "success")
    return redirect(url_for("providers.dashboard"))


@bp.route("/provider/resubmit", methods=["POST"])
@provider_staff_required
def resubmit():
    """Ask for review again after a rejection: redirect to the dashboard, now
    pending; refused (409, nothing changed) unless the provider is rejected."""
    provider = _my_provider()  # the CSRF token is checked for every POST by CSRFProtect
    with form_action(None, lambda status: render_dashboard(provider, status=status)):
        registration.resubmit(db.session, provider, actor=current_user)
    flash(_("Your organisation is submitted for review again."), "success")
    return redirect(url_for("providers.dashboard"))


@bp.route("/documents/<int:document_id>")
@login_required
def document_download(document_id: int):
    """The stored file as an attachment, for its provider's staff and officials;
    404 for anyone else (and when the file is missing)."""
    document = registration.document_for(db.session, document_id, current_user)
    path = uploads.document_path(document.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.original_name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
