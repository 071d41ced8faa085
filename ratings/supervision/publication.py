"""Publication of rule-set versions: draft, comment period, effect, withdrawal.

Due process (EU P2B 2019/1150 Art. 3–4, Platform Work Directive 2024/2831,
互联网信息服务算法推荐管理规定 Art. 16): providers learn a change before it
applies to them and can say what they think of it.

- :func:`create_draft`: an official saves a new version as a DRAFT (the version
  in force with the changes); a draft applies to nothing.
- :func:`publish`: the draft is announced; comments are open for
  ``RULES_COMMENT_DAYS`` (default 30) and it takes effect at ``effective_from``,
  which is never before the end of the comment period.
- :func:`comment`: a logged-in user (providers above all) says something about
  a published version while its comment period runs; officials read them.
- :func:`withdraw`: an official withdraws a draft, or a published version that
  has not taken effect yet; a withdrawn version never applies.

Which published version applies when is :func:`ratings.supervision.rules.in_force`
and :func:`~ratings.supervision.rules.for_period`.  Every step is audited and
flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import User
from ratings.supervision import rules
from ratings.supervision.dueprocess_models import RuleComment
from ratings.supervision.models import Publication, RuleSet

MAX_NOTE = 2000
MAX_COMMENT = 2000
MAX_COMMENT_DAYS = 365


def comment_days() -> int:
    return int(current_app.config.get("RULES_COMMENT_DAYS", 30))


def _plain(values: dict) -> dict:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}


def _official(user: User) -> None:
    if not user.is_official:
        raise Forbidden(_l("Only officials change the rule set."))


def _version(session: Session, rule_set_id: int, *, lock: bool = False) -> RuleSet:
    stmt = sa.select(RuleSet).where(RuleSet.id == rule_set_id)
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(_l("No such rule-set version."))
    return found


# --- Drafts -------------------------------------------------------------------------------


def create_draft(session: Session, official: User, changes: dict, note: str) -> RuleSet:
    """Save a new version as a draft: the version in force with ``changes`` (officials' units).

    Refuses nonsense with :class:`Invalid` naming the field, a version equal to the one in
    force (nothing changed), and a concurrent save of the same version number
    (:class:`Conflict`).  Audited.
    """
    _official(official)
    note = (note or "").strip()
    if not note:
        raise Invalid(_l("Say what you changed and why: it goes into the audit trail."), field="note")
    if len(note) > MAX_NOTE:
        raise Invalid(_l("The note is too long (2000 characters at most)."), field="note")
    unknown = set(changes) - set(rules.FIELD_NAMES)
    if unknown:
        raise Invalid(_l("Unknown field: %(name)s.", name=sorted(unknown)[0]), field=sorted(unknown)[0])
    base = rules.current(session)
    before = rules.human(base)
    clean = rules.validate({**before, **changes})
    stored = rules.to_stored(clean)
    if all(getattr(base, column) == value for column, value in stored.items()):
        raise Invalid(_l("Nothing changed: this is the rule set in force."), field="note")
    newest = session.scalar(sa.select(sa.func.max(RuleSet.version))) or 0
    rule_set = RuleSet(version=newest + 1, created_by_id=official.id, note=note,
                       publication=Publication.DRAFT, **stored)
    try:
        with session.begin_nested():
            session.add(rule_set)
            session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_l("Someone saved a new version at the same time: reload and try again.")) from None
    audit.record(
        session, actor=official, action="supervision.rule_set.version", object_type="supervision_rule_set",
        object_id=rule_set.id, before={"version": base.version, **_plain(before)},
        after={"version": rule_set.version, "publication": Publication.DRAFT, **_plain(clean)}, reason=note,
    )
    return rule_set


# --- Publication and withdrawal -------------------------------------------------------------


def _effective(rule_set: RuleSet, effective_on: str | date | None) -> datetime | None:
    """A day (``YYYY-MM-DD``) → its local midnight in the rule set's zone; blank → None."""
    if effective_on is None or (isinstance(effective_on, str) and not effective_on.strip()):
        return None
    if isinstance(effective_on, str):
        try:
            effective_on = date.fromisoformat(effective_on.strip())
        except ValueError:
            raise Invalid(_l("Enter a date like 2027-01-01."), field="effective_on") from None
    return datetime.combine(effective_on, time(0), tzinfo=rules.zone_of(rule_set)).astimezone(timezone.utc)


def publish(session: Session, official: User, rule_set_id: int, *, days: int | str | None = None,
            effective_on: str | date | None = None) -> RuleSet:
    """Announce a draft: comments open for ``days`` (default and minimum ``RULES_COMMENT_DAYS``),
    in force from the local midnight of ``effective_on`` (default: the end of the comment
    period; never earlier).  Audited."""
    _official(official)
    rule_set = _version(session, rule_set_id, lock=True)
    if rule_set.publication != Publication.DRAFT:
        raise Conflict(_l("Only a draft can be published."))
    if days is None or (isinstance(days, str) and not days.strip()):
        days = comment_days()
    try:
        days = int(str(days).strip())
    except ValueError:
        raise Invalid(_l("Enter a whole number."), field="days") from None
    if days < comment_days():
        raise Invalid(_l("The comment period is at least %(n)d days.", n=comment_days()), field="days")
    if days > MAX_COMMENT_DAYS:
        raise Invalid(_l("Enter at most %(high)s.", high=MAX_COMMENT_DAYS), field="days")
    at = now()
    until = at + timedelta(days=days)
    effective = _effective(rule_set, effective_on) or until
    if effective < until:
        raise Invalid(_l("A version takes effect only after its comment period (ends %(when)s).",
                         when=until.astimezone(rules.zone_of(rule_set)).date().isoformat()), field="effective_on")
    rule_set.publication = Publication.PUBLISHED
    rule_set.published_at, rule_set.comment_until, rule_set.effective_from = at, until, effective
    session.flush()
    audit.record(session, actor=official, action="supervision.rule_set.publish", object_type="supervision_rule_set",
                 object_id=rule_set.id, before={"publication": Publication.DRAFT},
                 after={"publication": rule_set.publication, "version": rule_set.version,
                        "comment_until": until, "effective_from": effective})
    return rule_set


def can_withdraw(rule_set: RuleSet, at: datetime | None = None) -> bool:
    at = at or now()
    return rule_set.publication == Publication.DRAFT or (
        rule_set.publication == Publication.PUBLISHED and rule_set.effective_from > at)


def withdraw(session: Session, official: User, rule_set_id: int, reason: str) -> RuleSet:
    """Withdraw a draft or an announced version before it takes effect, with a reason.  Audited."""
    _official(official)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Say why the version is withdrawn."), field="reason")
    if len(reason) > MAX_NOTE:
        raise Invalid(_l("The note is too long (2000 characters at most)."), field="reason")
    rule_set = _version(session, rule_set_id, lock=True)
    if not can_withdraw(rule_set):
        raise Conflict(_l("This version is in force or was withdrawn already: it cannot be withdrawn."))
    old = rule_set.publication
    rule_set.publication = Publication.WITHDRAWN
    rule_set.withdrawn_at = now()
    session.flush()
    audit.record(session, actor=official, action="supervision.rule_set.withdraw", object_type="supervision_rule_set",
                 object_id=rule_set.id, before={"publication": old},
                 after={"publication": rule_set.publication, "version": rule_set.version}, reason=reason)
    return rule_set


# --- Comments ------------------------------------------------------------------------------


def open_for_comment(rule_set: RuleSet, at: datetime | None = None) -> bool:
    at = at or now()
    return rule_set.publication == Publication.PUBLISHED and rule_set.comment_until > at


def comment(session: Session, user: User, rule_set_id: int, body: str) -> RuleComment:
    """A comment on a version during its comment period (409 outside it).  Audited."""
    body = (body or "").strip()
    if not body:
        raise Invalid(_l("Write your comment."), field="body")
    if len(body) > MAX_COMMENT:
        raise Invalid(_l("The comment is too long (2000 characters at most)."), field="body")
    rule_set = _version(session, rule_set_id)
    if not open_for_comment(rule_set):
        raise Conflict(_l("This version is not open for comment."))
    made = RuleComment(rule_set_id=rule_set.id, author_id=user.id, body=body, created_at=now())
    session.add(made)
    session.flush()
    audit.record(session, actor=user, action="supervision.rule_set.comment", object_type="rule_comment",
                 object_id=made.id, after={"version": rule_set.version, "length": len(body)})
    return made


def comments(session: Session, rule_set_id: int) -> list[RuleComment]:
    return list(session.scalars(sa.select(RuleComment).options(joinedload(RuleComment.author))
                                .where(RuleComment.rule_set_id == rule_set_id).order_by(RuleComment.created_at)))


# --- What the public page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: rules.Field
    before: object
    after: object


def diff(base: RuleSet, other: RuleSet) -> list[Change]:
    """The fields where ``other`` differs from ``base``, in officials' units."""
    old, new = rules.human(base), rules.human(other)
    return [Change(f, old[f.name], new[f.name]) for f in rules.FIELDS if old[f.name] != new[f.name]]


def announced(session: Session, at: datetime | None = None) -> list[RuleSet]:
    """Published versions not in force yet (open for comment, or waiting for their date)."""
    at = at or now()
    return list(session.scalars(sa.select(RuleSet).where(RuleSet.publication == Publication.PUBLISHED,
                                                         RuleSet.effective_from > at)
                                .order_by(RuleSet.effective_from)))


def history(session: Session) -> list[RuleSet]:
    """Every published version, newest effective date first (withdrawn and drafts are not rules)."""
    return list(session.scalars(sa.select(RuleSet).where(RuleSet.publication == Publication.PUBLISHED)
                                .order_by(RuleSet.effective_from.desc(), RuleSet.version.desc())))
