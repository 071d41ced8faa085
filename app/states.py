"""One state-machine helper for every status in Linli.

A :class:`StateMachine` is a table of allowed moves over a ``StrEnum``, its
initial state(s) and its labels.  :meth:`StateMachine.move` checks the move and
only then writes the new status, so an illegal move raises
:class:`app.errors.IllegalTransition` before anything changed.  Services that
record facts alongside a move (``responded_at``, ``decided_by``…) call
:meth:`StateMachine.check` first, or write them after :meth:`move`.

A machine may declare its ``terminal`` states (a case closed for good: a
removed provider, a paid claim); the constructor refuses a declared terminal
state that has an exit, and a state without exits that is not declared (a dead
end nobody meant).  A refusal says what the object is and what it cannot
become: the machine's ``message`` (or one given to :meth:`check`/:meth:`move`
for one action's wording) and, for forms, the ``field`` at fault.

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
        terminal: Iterable[S] | None = None,
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
        self.declared_terminal: frozenset[S] | None = None
        if terminal is not None:
            declared = frozenset(terminal)
            if declared - set(states):
                raise ValueError(f"state machine {name!r} declares terminal states outside {states.__name__}")
            with_exits = sorted(s.value for s in declared if self.transitions[s])
            if with_exits:
                raise ValueError(f"state machine {name!r}: terminal states {with_exits} have exits")
            undeclared = sorted(s.value for s in self.dead_ends - declared)
            if undeclared:
                raise ValueError(f"state machine {name!r}: {undeclared} have no exits but are not terminal")
            self.declared_terminal = declared
        MACHINES[name] = self

    # --- questions -----------------------------------------------------------

    def can(self, old: S, new: S) -> bool:
        return new in self.transitions[self.states(old)]

    def exits(self, state: S) -> frozenset[S]:
        return self.transitions[self.states(state)]

    @property
    def dead_ends(self) -> frozenset[S]:
        """The states without any exit (computed from the table)."""
        return frozenset(s for s, targets in self.transitions.items() if not targets)

    @property
    def terminal(self) -> frozenset[S]:
        """The declared terminal states, or (none declared) the states without exits."""
        return self.declared_terminal if self.declared_terminal is not None else self.dead_ends

    def illegal_pairs(self) -> list[tuple[S, S]]:
        """Every ``(old, new)`` the table refuses (a state to itself included), in a stable order."""
        return [(old, new) for old in self.states for new in self.states if new not in self.transitions[old]]

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
        return str(self._label(state))

    def _label(self, state):
        """The label as given (a lazy string stays lazy until the message is shown)."""
        return self.labels.get(state, state.value if isinstance(state, StrEnum) else state)

    # --- moves -----------------------------------------------------------------

    def refusal(self, old: S, new: S, message=None, field: str | None = None) -> IllegalTransition:
        """The error for a refused ``old → new``.

        ``message`` (else the machine's) is either a callable
        ``(old_label, new_label) -> text`` or a text used as it is."""
        message = message if message is not None else self.message
        if message is None:
            text = _l("This is %(old)s; it cannot become %(new)s.", old=self._label(old), new=self._label(new))
        elif callable(message):
            text = message(self._label(old), self._label(new))
        else:
            text = message
        return IllegalTransition(text, field=field)

    def check(self, old: S, new: S, *, message=None, field: str | None = None) -> None:
        """Raise :class:`IllegalTransition` unless ``old → new`` is allowed."""
        if not self.can(old, new):
            raise self.refusal(old, new, message, field)

    def move(self, obj, new: S, *, message=None, field: str | None = None) -> S:
        """Check the move, then set the status; returns the old status.

        Nothing on ``obj`` is written when the move is refused."""
        old = getattr(obj, self.attribute)
        self.check(old, new, message=message, field=field)
        setattr(obj, self.attribute, self.states(new))
        return old
