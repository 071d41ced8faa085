"""The home page and the health check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user

from app import storage
from app.access import public
from app.extensions import db

bp = Blueprint("main", __name__)


@bp.route("/")
@public
def home():
    """Send each kind of user to where their work is."""
    if current_user.is_authenticated:
        if current_user.is_official:
            return redirect(url_for("providers.vetting_queue"))
        if current_user.is_provider_staff:
            return redirect(url_for("providers.dashboard"))
        if current_user.is_evaluator:
            return redirect(url_for("follow_ups.queue"))
        if current_user.is_grid_worker:
            return redirect(url_for("grid_worker.residents"))
    return render_template("home.html")


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers and the upload folder can take an upload; else 503.

    The body says which: ``database`` (true/false) and ``uploads`` (``writable``,
    ``free_bytes``, ``min_free_bytes``, ``ok``; ``error`` names the OS error).
    """
    database = True
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database = False
    uploads = storage.health()
    healthy = database and uploads["ok"]
    return jsonify(status="ok" if healthy else "unavailable", database=database, uploads=uploads), (
        200 if healthy else 503)
