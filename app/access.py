"""Server-side access checks for views.

Every view states who may call it; objects are then fetched through helpers
that check ownership (a provider's listing, a resident's own data), answering
404 for someone else's object so its existence is not revealed.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from app.extensions import login_manager
from app.models import Role

OFFICIAL_ROLES = (Role.OFFICIAL, Role.ADMIN)


def roles_required(*roles: Role):
    """Allow only logged-in users whose role is one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.linli_roles = roles
        return wrapped

    return decorator


def public(view):
    """Mark a view as open to everyone (the access matrix test reads this)."""
    view.linli_roles = "public"
    return view


def login_required(view):
    """Any logged-in user."""
    return roles_required(*Role)(view)


official_required = roles_required(*OFFICIAL_ROLES)
resident_required = roles_required(Role.RESIDENT)
provider_staff_required = roles_required(Role.PROVIDER_STAFF)
