"""What a provider's change request changes, as rows for the provider's and the officials' pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from providers.models import ProviderChange, ServiceCategory

CHANGE_FIELD_LABELS = {
    "name": _l("Organisation name"),
    "legal_representative": _l("Legal representative"),
    "categories": _l("Service categories"),
}


def _category_names(session: Session, codes: list[str]) -> str:
    rows = session.scalars(sa.select(ServiceCategory).where(ServiceCategory.code.in_(codes))
                           .order_by(ServiceCategory.sort_order, ServiceCategory.id))
    return "、".join(category.name for category in rows) or "—"


def change_rows(session: Session, change: ProviderChange) -> list[tuple[str, str, str]]:
    """(what, in force, proposed) for each vetted detail the change proposes."""
    rows = []
    for key in ("name", "legal_representative", "categories"):
        if key not in change.proposed:
            continue
        before, after = change.before.get(key), change.proposed[key]
        if key == "categories":
            before, after = _category_names(session, before or []), _category_names(session, after)
        rows.append((str(CHANGE_FIELD_LABELS[key]), before or "—", after or "—"))
    return rows
