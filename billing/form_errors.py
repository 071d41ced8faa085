"""Every problem with a submitted form at once: the form's own checks and the service's.

A page checks its form (WTForms: the shape of the input), then asks the service
to check what could be read (the rules), and shows both together.  A field the
form already found at fault keeps its own message (one per fault, not the same
fault twice); the service's refusals go on the other fields (through the
page's ``aliases``); one that names no field is flashed.  Services collect
their refusals with :class:`app.errors.Problems`.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import flash

from app.errors import LinliError


def add_problems(form, error: LinliError, aliases: Mapping[str, str] | None = None) -> None:
    """Put each refusal of ``error`` on its field of ``form`` unless the field shows an error already."""
    several = getattr(error, "errors", None)
    for one in several if several is not None else [error]:
        name = (aliases or {}).get(one.field, one.field) if one.field else None
        field = getattr(form, name, None) if name else None
        if field is None:
            flash(str(one), "error")
        elif not field.errors:
            field.errors = [*field.errors, str(one)]


def at_fault(form) -> set[str]:
    """The names of the fields of ``form`` that show an error."""
    return {f.name for f in form if f.errors}
