"""The qualifications a carer can hold (a small, fixed list).

Kept apart from the models so that :class:`providers.models.ServiceCategory`
can name the qualification a category requires without importing the roster.
"""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class QualificationKind(StrEnum):
    ELDER_CARE = "elder_care"  # 养老护理员职业技能等级证书
    HEALTH = "health"  # 健康证 (food and care work)
    NURSE = "nurse"  # 护士执业证书
    ELECTRICIAN = "electrician"  # 特种作业操作证（电工）


QUALIFICATION_LABELS = {
    QualificationKind.ELDER_CARE: _l("Elder-care worker certificate"),
    QualificationKind.HEALTH: _l("Health certificate"),
    QualificationKind.NURSE: _l("Nurse practising certificate"),
    QualificationKind.ELECTRICIAN: _l("Electrician certificate"),
}
