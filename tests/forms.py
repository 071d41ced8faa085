"""Submit a form the way a browser does: as the page rendered it.

A page test that writes GETs the page, picks one of its forms (by action, id
or the button it presses), fills the fields a person would fill, and submits
with the chosen button. What goes over the wire is built from the page: its
hidden fields (the CSRF token when CSRF is on, ``hidden_tag()``'s fields), the
defaults of every other field, the pressed button's name and value, and the
form's method, action and encoding. A test cannot fill a field the page does
not render, choose an option it does not offer, or press a button it does not
show; a test that must send a tampered body says so and posts it raw.

    response = submit(client, "/official/complaints", button="Uphold",
                      fields={"reason": "迟到属实"})

    page = open_page(client, f"/bookings/{booking.id}")
    assert "Cancel" in page.buttons()
    response = page.form(button="Cancel").submit(fields={"reason": "有事"})

Files: a file input takes ``(bytes, filename)`` or a list of them (``multiple``);
an empty file input is left out, as Werkzeug does with a missing upload.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from werkzeug.datastructures import MultiDict

_TEXTUAL = {"text", "password", "email", "tel", "number", "date", "datetime-local", "time",
            "url", "search", "month", "week", "color", "range", "hidden"}


def _text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).split())


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class FormError(AssertionError):
    """The page does not offer what the test tried to submit."""


class Button:
    def __init__(self, tag: Tag):
        self.tag = tag
        self.name = tag.get("name")
        self.value = tag.get("value", "")
        self.text = _text(tag) if tag.name == "button" else tag.get("value", "")

    def matches(self, wanted) -> bool:
        if isinstance(wanted, tuple):
            return (self.name, self.value) == wanted
        return wanted in (self.text, self.value)

    def __repr__(self) -> str:
        return f"<button {self.text!r} {self.name}={self.value!r}>"


class Form:
    """One ``<form>`` of a rendered page."""

    def __init__(self, page: "Page", tag: Tag):
        self.page = page
        self.tag = tag
        self.method = (tag.get("method") or "get").lower()
        self.action = urljoin(page.url, tag.get("action") or page.url)
        self.multipart = (tag.get("enctype") or "").lower() == "multipart/form-data"

    # --- what the form offers ---------------------------------------------------
    def _controls(self) -> list[Tag]:
        """The form's controls in document order (also those outside it with form=id)."""
        controls = list(self.tag.find_all(["input", "select", "textarea", "button"]))
        form_id = self.tag.get("id")
        if form_id:
            controls += [c for c in self.page.soup.find_all(["input", "select", "textarea", "button"])
                         if c.get("form") == form_id and c not in controls]
        return [c for c in controls if not c.has_attr("disabled")]

    def buttons(self) -> list[Button]:
        return [Button(c) for c in self._controls()
                if (c.name == "button" and (c.get("type") or "submit").lower() == "submit")
                or (c.name == "input" and (c.get("type") or "").lower() in ("submit", "image"))]

    def field_names(self) -> set[str]:
        return {c.get("name") for c in self._controls() if c.get("name") and c not in
                [b.tag for b in self.buttons()]}

    def button(self, wanted) -> Button:
        found = [b for b in self.buttons() if b.matches(wanted)]
        if len(found) != 1:
            raise FormError(f"{len(found)} buttons match {wanted!r} in {self.buttons()}")
        return found[0]

    def defaults(self) -> list[tuple[str, Any]]:
        """What a browser would send with no field touched, in document order."""
        pairs: list[tuple[str, Any]] = []
        for c in self._controls():
            name = c.get("name")
            if not name:
                continue
            kind = (c.get("type") or "").lower()
            if c.name == "input":
                if kind in ("submit", "image", "button", "reset", "file"):
                    continue
                if kind in ("checkbox", "radio"):
                    if c.has_attr("checked"):
                        pairs.append((name, c.get("value", "on")))
                    continue
                pairs.append((name, c.get("value", "")))
            elif c.name == "textarea":
                value = c.get_text()
                pairs.append((name, value[1:] if value.startswith("\n") else value))
            elif c.name == "select":
                options = c.find_all("option")
                chosen = [o for o in options if o.has_attr("selected")]
                if not chosen and options and not c.has_attr("multiple"):
                    chosen = options[:1]
                pairs += [(name, o.get("value", _text(o))) for o in chosen]
        return pairs

    def _choices(self, name: str) -> list[str] | None:
        """The values a select, radio group or checkbox offers; None for free text."""
        offered = []
        for c in self._controls():
            if c.get("name") != name:
                continue
            kind = (c.get("type") or "").lower()
            if c.name == "select":
                offered += [o.get("value", _text(o)) for o in c.find_all("option")]
            elif c.name == "input" and kind in ("checkbox", "radio"):
                offered.append(c.get("value", "on"))
            else:
                return None
        return offered

    def _file_names(self) -> set[str]:
        return {c.get("name") for c in self._controls()
                if c.name == "input" and (c.get("type") or "").lower() == "file"}

    # --- submitting -------------------------------------------------------------
    def values(self, fields: dict | None = None, button=None) -> MultiDict:
        fields = dict(fields or {})
        known = self.field_names()
        unknown = set(fields) - known
        if unknown:
            raise FormError(f"the form has no field {sorted(unknown)}; it has {sorted(known)}")
        files = self._file_names()
        for name, value in fields.items():
            if name in files:
                continue
            offered = self._choices(name)
            if offered is not None:
                wanted = value if isinstance(value, (list, tuple)) else [value]
                missing = [v for v in wanted if v is not None and str(v) not in offered]
                if missing:
                    raise FormError(f"{name} offers {offered}, not {missing}")
        pairs: list[tuple[str, Any]] = []
        placed: set[str] = set()
        for name, value in self.defaults():
            if name in fields:
                if name in placed:
                    continue
                placed.add(name)
                pairs += _as_pairs(name, fields[name])
            else:
                pairs.append((name, value))
        for name in fields:
            if name not in placed:
                if name in files:
                    pairs += [(name, (io.BytesIO(body), filename))
                              for body, filename in _files(fields[name])]
                else:
                    pairs += _as_pairs(name, fields[name])
        if button is not None:
            pressed = button if isinstance(button, Button) else self.button(button)
            if pressed.name:
                pairs.append((pressed.name, pressed.value))
        elif len(self.buttons()) > 1 and any(b.name for b in self.buttons()):
            raise FormError(f"say which button to press: {self.buttons()}")
        elif self.buttons() and self.buttons()[0].name:
            pairs.append((self.buttons()[0].name, self.buttons()[0].value))
        return MultiDict(pairs)

    def submit(self, fields: dict | None = None, button=None, **kwargs):
        """Submit through the page's test client; returns the response."""
        action = self.action
        if button is not None:
            pressed = self.button(button)
            if pressed.tag.get("formaction"):
                action = urljoin(self.page.url, pressed.tag["formaction"])
            button = pressed
        data = self.values(fields, button)
        client = self.page.client
        if self.method == "get":
            base = urlsplit(action)
            return client.get(base.path, query_string=data, **kwargs)
        if self.multipart:
            return client.post(_path(action), data=data, content_type="multipart/form-data", **kwargs)
        return client.post(_path(action), data=data, **kwargs)


def _as_pairs(name: str, value) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [(name, str(v)) for v in value]
    return [(name, str(value))]


def _files(value) -> list[tuple[bytes, str]]:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bytes):
        return [value]
    return list(value or [])


class Page:
    """A rendered HTML page and its forms."""

    def __init__(self, client, url: str, response):
        self.client = client
        self.url = url
        self.response = response
        self.html = response.get_data(as_text=True)
        self.soup = BeautifulSoup(self.html, "html.parser")

    def forms(self) -> list[Form]:
        return [Form(self, tag) for tag in self.soup.find_all("form")]

    def buttons(self) -> list[str]:
        """The visible names of every submit button on the page."""
        return [b.text for form in self.forms() for b in form.buttons()]

    def form(self, *, action: str | None = None, id: str | None = None, button=None,  # noqa: A002
             having: dict | None = None) -> Form:
        """The one form with that action (path, query ignored unless given), id, button
        and/or rendered values (``having={"action": "reject"}``: its hidden field says
        which decision it makes); among several, the one in the page's ``<main>``."""
        found = self.forms()
        if having:
            found = [f for f in found if set(having.items()) <= {(k, str(v)) for k, v in f.defaults()}]
        if id is not None:
            found = [f for f in found if f.tag.get("id") == id]
        if action is not None:
            target = urlsplit(urljoin(self.url, action))
            found = [f for f in found if urlsplit(f.action).path == target.path
                     and (not target.query or urlsplit(f.action).query == target.query)]
        if button is not None:
            found = [f for f in found if any(b.matches(button) for b in f.buttons())]
        if len(found) > 1:  # the layout's own forms (language, large text) sit outside <main>
            inside = [f for f in found if f.tag.find_parent("main") is not None]
            found = inside or found
        if len(found) != 1:
            raise FormError(
                f"{len(found)} forms match action={action!r} id={id!r} button={button!r} on {self.url}: "
                + "; ".join(f"{f.method} {_path(f.action)} {f.buttons()}" for f in self.forms())
            )
        return found[0]

    def submit(self, *, action=None, id=None, button=None, having=None, fields=None, **kwargs):  # noqa: A002
        form = self.form(action=action, id=id, button=button, having=having)
        return form.submit(fields, button=button, **kwargs)


def open_page(client, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:500])
    return Page(client, url, response)


def page_of(client, url: str, response) -> Page:
    """A page from a response already in hand (a re-rendered form after a refusal)."""
    return Page(client, url, response)


def submit(client, url: str, *, action=None, id=None, button=None, having=None, fields=None,  # noqa: A002
           **kwargs):
    """GET ``url``, find the form (by action, id, button or rendered values), fill
    ``fields``, press ``button`` (its visible text or value, or a ``(name, value)``
    pair) and submit."""
    return open_page(client, url).submit(action=action, id=id, button=button, having=having, fields=fields,
                                         **kwargs)
