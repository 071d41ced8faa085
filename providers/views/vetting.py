"""Officials' vetting: the queue of providers by status, one provider's file with
its documents and audit trail, and the decisions (approve, reject, suspend, reinstate)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import audit
from app.access import official_required
from app.clock import today
from app.errors import LinliError
from app.extensions import db
from app.models import Community
from app.uow import apply_form_error, form_action
from providers import registration, vetting
from providers.forms import DecisionForm
from providers.models import (
    DOCUMENT_KIND_LABELS,
    PROVIDER_STATUS_LABELS,
    DocumentKind,
    ProviderStatus,
    ServiceCategory,
)
from providers.views import bp
from providers.views.changes import change_rows

# The actions' labels have one home: app.audit.ACTION_LABELS.
audit_action_label = audit.action_label

AUDIT_FIELD_LABELS = {
    "status": _l("Status"),
    "reason": _l("Reason"),
    "name": _l("Organisation name"),
    "credit_code": _l("Unified social credit code"),
    "legal_representative": _l("Legal representative"),
    "contact_name": _l("Contact person"),
    "contact_phone": _l("Contact phone"),
    "address": _l("Address"),
    "categories": _l("Service categories"),
    "communities": _l("Communities served"),
}

# Internal ids the trail does not show.
HIDDEN_AUDIT_KEYS = frozenset({"document_id", "change_id"})

# Document events describe the document, not the organisation.
DOCUMENT_FIELD_LABELS = {
    "kind": _l("Kind of document"),
    "name": _l("File"),
    "expires_on": _l("Valid until"),
}


def _category_names() -> dict[str, str]:
    return {c.code: c.name for c in db.session.scalars(sa.select(ServiceCategory))}


def _community_names() -> dict[str, str]:
    return {c.code: c.name for c in db.session.scalars(sa.select(Community))}


CODE_NAMES = {"categories": _category_names, "communities": _community_names}


def _shown(key: str, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if key == "status" and value in ProviderStatus._value2member_map_:
        return str(PROVIDER_STATUS_LABELS[ProviderStatus(value)])
    if key == "kind" and value in DocumentKind._value2member_map_:
        return str(DOCUMENT_KIND_LABELS[DocumentKind(value)])
    if key in CODE_NAMES and isinstance(value, list):  # stored as codes: shown by their names
        names = CODE_NAMES[key]()
        return ", ".join(names.get(item, str(item)) for item in value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def audit_changes(event) -> list[tuple[str, str, str]]:
    """(what, before, after) for each value the event changed, labels translated."""
    labels = DOCUMENT_FIELD_LABELS if event.action.startswith("document.") else AUDIT_FIELD_LABELS
    before, after = event.before or {}, event.after or {}
    rows = []
    for key in [*before, *(k for k in after if k not in before)]:
        if key in HIDDEN_AUDIT_KEYS or before.get(key) == after.get(key):
            continue
        label = str(labels.get(key, key))
        rows.append((label, _shown(key, before.get(key)), _shown(key, after.get(key))))
    return rows


@bp.route("/official/providers")
@official_required
def vetting_queue():
    """Providers in one status (``?status=``, pending by default), oldest
    submission first, with the count of each status (200; 404 for an unknown status)."""
    try:
        status = ProviderStatus(request.args.get("status", ProviderStatus.PENDING))
    except ValueError:
        abort(404)
    return render_template(
        "providers/vetting_queue.html",
        status=status,
        providers=vetting.queue(db.session, status),
        counts=vetting.counts_by_status(db.session),
        tabs=vetting.QUEUE_STATUSES,
        labels=PROVIDER_STATUS_LABELS,
        changes=vetting.change_queue(db.session),
    )


@bp.route("/official/providers.csv")
@official_required
def vetting_queue_csv():
    """The providers of the queue's ``?status=`` (pending by default), in its order, as CSV."""
    from app.csv_export import csv_response
    from app.i18n import format_local

    try:
        status = ProviderStatus(request.args.get("status", ProviderStatus.PENDING))
    except ValueError:
        abort(404)
    header = [_("Organisation"), _("Status"), _("Credit code"), _("Service categories"), _("Communities served"),
              _("Documents"), _("Submitted for review")]
    rows = ([p.name, str(PROVIDER_STATUS_LABELS[p.status]), p.credit_code, "、".join(c.name for c in p.categories),
             "、".join(c.name for c in p.communities), len(p.documents), format_local(p.submitted_at)]
            for p in vetting.queue(db.session, status))
    return csv_response("providers.csv", header, rows)


def render_provider(provider, *, failed: DecisionForm | None = None, failed_change: DecisionForm | None = None,
                    status: int = 200):
    """One provider's file for officials, with a decision form per allowed action
    (and per decision on its change request, if one waits)."""
    forms = {}
    for action in vetting.actions_for(provider):
        if failed is not None and failed.action.data == action:
            forms[action] = failed
        else:
            forms[action] = DecisionForm(formdata=None, action=action)
    change = registration.open_change(db.session, provider)
    change_forms = {}
    if change is not None:
        for action in vetting.CHANGE_DECISIONS:
            if failed_change is not None and failed_change.action.data == action:
                change_forms[action] = failed_change
            else:
                change_forms[action] = DecisionForm(formdata=None, action=action)
    # Each form's reason box has its own id on the page, so the error summary links to it.
    for action, form in forms.items():
        form.reason.id = f"reason-{action}"
    for action, form in change_forms.items():
        form.reason.id = f"change-reason-{action}"
    return render_template(
        "providers/vetting_provider.html",
        provider=provider,
        change=change,
        change_rows=change_rows(db.session, change) if change is not None else [],
        change_forms=change_forms,
        forms=forms,
        decision_labels=vetting.DECISION_LABELS,
        reason_required={action: vetting.reason_required(action) for action in forms},
        events=audit.trail(db.session, "provider", provider.id),
        audit_changes=audit_changes,
        audit_action_label=audit_action_label,
        today=today(),
    ), status


@bp.route("/official/providers/<int:provider_id>")
@official_required
def vetting_provider(provider_id: int):
    """All a provider's details, documents, the decisions open now and its audit trail (200; 404)."""
    return render_provider(vetting.get_provider(db.session, provider_id))


@bp.route("/official/providers/<int:provider_id>/decision", methods=["POST"])
@official_required
def vetting_decision(provider_id: int):
    """Apply a decision and redirect to the provider's page; refused decisions
    re-render it with the message (422 missing or bad input, 409 a transition
    the provider's status does not allow) and change nothing."""
    provider = vetting.get_provider(db.session, provider_id, for_update=True)
    form = DecisionForm()

    def show(error: LinliError) -> None:
        """The reason beside its box; anything else (the action) at the top of the page."""
        apply_form_error(form if error.field == "reason" else None, error)

    with form_action(form, lambda status: render_provider(provider, failed=form, status=status), show=show):
        vetting.decide(
            db.session, provider, form.action.data or "", official=current_user,
            reason=form.reason.data or "",
        )
    flash(
        _("%(provider)s is now: %(status)s.", provider=provider.name, status=provider.status_label),
        "success",
    )
    return redirect(url_for("providers.vetting_provider", provider_id=provider.id))


@bp.route("/official/providers/<int:provider_id>/change/decision", methods=["POST"])
@official_required
def vetting_change_decision(provider_id: int):
    """Approve or reject the provider's change request and redirect to its page;
    refused decisions re-render it with the message (422 missing reason, 409 a
    qualification the new categories need is missing, or no change waits) and
    change nothing."""
    provider = vetting.get_provider(db.session, provider_id, for_update=True)
    form = DecisionForm()

    def show(error: LinliError) -> None:
        apply_form_error(form if error.field == "reason" else None, error)

    with form_action(form, lambda status: render_provider(provider, failed_change=form, status=status),
                     show=show):
        vetting.decide_change(
            db.session, provider, form.action.data or "", official=current_user, reason=form.reason.data or "",
        )
    if form.action.data == "approve":
        flash(_("The change is approved and in force: %(provider)s.", provider=provider.name), "success")
    else:
        flash(_("The change is rejected; %(provider)s keeps its details.", provider=provider.name), "success")
    return redirect(url_for("providers.vetting_provider", provider_id=provider.id))
