"""Run an evaluation from the supervision page: preview it, then store exactly that.

``GET /official/supervision/evaluate`` shows the form; with ``?as_of=YYYY-MM-DD`` it
also shows what a run as of that day would find — every provider's grade and
breaches, the penalty reports it would propose — computed by the same service as
``flask evaluate --dry-run`` and the API's ``dry_run`` (:func:`runs.preview`), and
written nowhere.  ``POST`` stores the run (:func:`runs.store_previewed`) only if
its fingerprint equals the preview's (a hidden field); if the figures changed in
between, nothing is stored and the page shows the new preview with a message.
Who may: officials and admins, as the API's ``/evaluate``.  Audited on store.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import official_required
from app.clock import local, now
from app.db import write_transaction
from app.errors import LinliError
from app.extensions import db
from app.uow import apply_form_error, form_action
from ratings.supervision import reports, runs
from ratings.supervision.forms import EvaluateForm, StoreRunForm
from ratings.supervision.models import GRADE_LABELS, SANCTION_LABELS

bp = Blueprint("evaluation", __name__, template_folder="templates")


def render_evaluate(form: EvaluateForm, status: int = 200, *, day: str | None = None):
    """The page: the form, and the preview of ``day`` when it is a day that can be evaluated."""
    preview = None
    if day is not None:
        try:
            preview = runs.preview(db.session, runs.evaluation_time(db.session, day))
        except LinliError as error:
            apply_form_error(form, error)
            status = max(status, error.status)
    store_form = None
    if preview is not None and preview.existing is None:
        store_form = StoreRunForm(formdata=None, data={"as_of": day.strip(), "fingerprint": preview.fingerprint})
    return render_template("supervision/evaluate.html", form=form, preview=preview, store_form=store_form,
                           grade_labels=GRADE_LABELS, sanction_labels=SANCTION_LABELS,
                           threshold_label=reports.threshold_label, threshold_labels=reports.threshold_labels), status


@bp.route("/official/supervision/evaluate")
@official_required
def evaluate_page():
    """The evaluation form; ``?as_of=`` previews the run (200; 422 with every problem of the day)."""
    if "as_of" not in request.args:
        form = EvaluateForm(formdata=None, data={"as_of": local(now()).date().isoformat()})
        return render_evaluate(form)
    form = EvaluateForm(request.args)
    return render_evaluate(form, day=form.as_of.data or "")


@bp.route("/official/supervision/evaluate", methods=["POST"])
@official_required
def store_run():
    """Store the previewed run and open it; 409 with the new preview when the figures changed,
    409 when the day is stored already, 422 for a bad day (nothing stored)."""
    store_form = StoreRunForm()
    day = store_form.as_of.data or ""
    form = EvaluateForm(formdata=None, data={"as_of": day})
    with form_action(store_form, lambda status: render_evaluate(form, status, day=day),
                     show=lambda error: apply_form_error(form, error)):
        at = runs.evaluation_time(db.session, day)
        with write_transaction(db.session):
            outcome = runs.store_previewed(db.session, at, store_form.fingerprint.data or "", current_user)
    run = outcome.run
    flash(_("Run #%(n)d stored: %(providers)d provider(s), %(reports)d penalty report(s) proposed.", n=run.id,
            providers=run.provider_count, reports=run.report_count), "success")
    return redirect(url_for("supervision.run_detail", run_id=run.id))
