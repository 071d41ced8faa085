"""Provider staff: their organisation's programme awards (and nobody else's)."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.access import provider_staff_required
from app.extensions import db
from billing.programmes.provider_awards import awards_of
from billing.programmes.views import bp
from providers.registration import provider_of


@bp.route("/provider/programmes")
@provider_staff_required
def provider_awards():
    """The caller's provider's awards: programme, term, contract price, quota used of total,
    visits reserved and consumed, status (200)."""
    provider = provider_of(db.session, current_user)
    return render_template("programmes/provider_awards.html", provider=provider,
                           summaries=awards_of(db.session, provider))
