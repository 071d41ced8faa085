"""One state-machine helper for every status in Linli.

A :class:`StateMachine` is a table of allowed moves over a ``StrEnum``, its
initial state(s) and its labels.  :meth:`StateMachine.move` checks the move and
only then writes the new status, so an illegal move raises
:class:`app.errors.IllegalTransition` before anything changed.  Services that
record facts alongside a move (``responded_at``, ``decided_by``…) call
:meth:`StateMachine.check` first, or write them after :meth:`move`.

Every machine registers itself in :data:`MACHINES` when it is built, so one
generic test (``tests/test_state_machines.py``) can assert for all of them
that each state is reachable from an initial state, that terminal states have
no exits and that an illegal move changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from flask_babel import lazy_gettext as _l

from app.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)

MACHINES: dict[str, StateMachine] = {}


class StateMachine(Generic[S]):
    """The allowed moves of one kind of object's ``attribute`` (default ``status``)."""

    def __init__(
        self,
        name: str,
        states: type[S],
        transitions: Mapping[S, Iterable[S]],
        *,
        initial: S | Iterable[S],
        labels: Mapping[S, object] | None = None,
        attribute: str = "status",
        message=None,
    ) -> None:
        self.name = name
        self.states = states
        self.transitions: dict[S, frozenset[S]] = {s: frozenset(transitions.get(s, ())) for s in states}
        unknown = {t for targets in self.transitions.values() for t in targets} - set(states)
        if set(transitions) - set(states) or unknown:
            raise ValueError(f"state machine {name!r} names states outside {states.__name__}")
        self.initial: frozenset[S] = frozenset([initial] if isinstance(initial, StrEnum) else initial)
        self.labels = dict(labels or {})
        self.attribute = attribute
        # message(old_label, new_label) -> the (lazy) text of a refused move.
        self.message = message
        MACHINES[name] = self

    # --- questions -----------------------------------------------------------

    def can(self, old: S, new: S) -> bool:
        return new in self.transitions[self.states(old)]

    def exits(self, state: S) -> frozenset[S]:
        return self.transitions[self.states(state)]

    @property
    def terminal(self) -> frozenset[S]:
        return frozenset(s for s, targets in self.transitions.items() if not targets)

    def reachable(self) -> frozenset[S]:
        seen: set[S] = set(self.initial)
        todo = list(self.initial)
        while todo:
            for target in self.transitions[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return frozenset(seen)

    def label(self, state: S) -> str:
        return str(self.labels.get(state, state.value if isinstance(state, StrEnum) else state))

    # --- moves -----------------------------------------------------------------

    def check(self, old: S, new: S) -> None:
        """Raise :class:`IllegalTransition` unless ``old → new`` is allowed."""
        if not self.can(old, new):
            if self.message is not None:
                raise IllegalTransition(self.message(self.label(old), self.label(new)))
            raise IllegalTransition(
                _l("This is %(old)s; it cannot become %(new)s.", old=self.label(old), new=self.label(new))
            )

    def move(self, obj, new: S) -> S:
        """Check the move, then set the status; returns the old status."""
        old = getattr(obj, self.attribute)
        self.check(old, new)
        setattr(obj, self.attribute, new)
        return old
