"""The public rules page and the officials' pages of a rule-set version's publication.

``/rules`` (no log-in): the rule set in force — every threshold, window, minimum count,
grade cut-off and ladder step — the published versions with their effective dates, and
the versions announced but not in force yet, with their comment deadline and what they
change against the one in force.  A logged-in user comments while the period runs.
``/official/supervision/rules/<id>``: one version with its comments, and the forms to
publish (a draft) or withdraw it (before it takes effect).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import login_required, official_required, public
from app.extensions import db
from app.i18n import format_local
from app.uow import form_action
from ratings.supervision import publication, reports, rules
from ratings.supervision.dueprocess_forms import CommentForm, PublishForm, WithdrawForm
from ratings.supervision.models import LADDER, SANCTION_LABELS, RuleSet

bp = Blueprint("publication", __name__, template_folder="templates")


def _context() -> dict:
    return {"fields": rules.FIELDS, "thresholds": rules.THRESHOLDS, "describe": reports.describe_limits,
            "human": rules.human, "ladder": [SANCTION_LABELS[s] for s in LADDER],
            "open_for_comment": publication.open_for_comment, "can_withdraw": publication.can_withdraw}


def render_public(form: CommentForm | None = None, status: int = 200):
    in_force = rules.current(db.session)
    announced = publication.announced(db.session)
    return render_template(
        "supervision/public_rules.html", in_force=in_force, values=rules.human(in_force),
        history=publication.history(db.session), announced=announced,
        changes={v.id: publication.diff(in_force, v) for v in announced},
        form=form or CommentForm(formdata=None), comment_days=publication.comment_days(), **_context(),
    ), status


@bp.route("/rules")
@public
def public_rules():
    """The rule set in force, its history and the versions open for comment (200, for everyone)."""
    return render_public()


@bp.route("/rules/<int:rule_set_id>/comments", methods=["POST"])
@login_required
def add_comment(rule_set_id: int):
    """Comment on an announced version; 404 unknown, 409 outside its comment period, 422 empty."""
    form = CommentForm()
    with form_action(form, lambda status: render_public(form, status), reraise=(404,)):
        publication.comment(db.session, current_user, rule_set_id, form.body.data)
    flash(_("Thank you: your comment is recorded and officials read it before the version takes effect."),
          "success")
    return redirect(url_for("publication.public_rules"))


# --- Officials --------------------------------------------------------------------------------


def render_version(rule_set_id: int, publish_form=None, withdraw_form=None, status: int = 200):
    version = db.session.get(RuleSet, rule_set_id)
    if version is None:
        abort(404)
    in_force = rules.current(db.session)
    return render_template(
        "supervision/rule_version.html", version=version, in_force=in_force,
        changes=publication.diff(in_force, version), comments=publication.comments(db.session, version.id),
        publish_form=publish_form or PublishForm(formdata=None, data={"days": publication.comment_days()}),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None), **_context(),
    ), status


@bp.route("/official/supervision/rules/<int:rule_set_id>")
@official_required
def version_detail(rule_set_id: int):
    """One version: what it changes, its dates, its comments, publish/withdraw (404 unknown)."""
    return render_version(rule_set_id)


@bp.route("/official/supervision/rules/<int:rule_set_id>/publish", methods=["POST"])
@official_required
def publish_version(rule_set_id: int):
    """Publish a draft with its comment period; 404/409/422 with the message (nothing changed)."""
    form = PublishForm()
    with form_action(form, lambda status: render_version(rule_set_id, publish_form=form, status=status),
                     reraise=(404,)):
        version = publication.publish(db.session, current_user, rule_set_id, days=form.days.data,
                                      effective_on=form.effective_on.data)
    flash(_("Version %(v)d is published: open for comment until %(until)s, in force from %(effective)s.",
            v=version.version, until=format_local(version.comment_until),
            effective=format_local(version.effective_from)), "success")
    return redirect(url_for("publication.version_detail", rule_set_id=rule_set_id))


@bp.route("/official/supervision/rules/<int:rule_set_id>/withdraw", methods=["POST"])
@official_required
def withdraw_version(rule_set_id: int):
    """Withdraw a version before it takes effect; 404/409/422 with the message (nothing changed)."""
    form = WithdrawForm()
    with form_action(form, lambda status: render_version(rule_set_id, withdraw_form=form, status=status),
                     reraise=(404,)):
        version = publication.withdraw(db.session, current_user, rule_set_id, form.reason.data)
    flash(_("Version %(v)d is withdrawn: it will never apply.", v=version.version), "success")
    return redirect(url_for("publication.version_detail", rule_set_id=rule_set_id))
