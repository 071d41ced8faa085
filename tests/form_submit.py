"""Submit the form a page rendered (its hidden fields, its values, its button), as a browser would."""

from __future__ import annotations

from bs4 import BeautifulSoup


def rendered_form(html: str, action_ends: str):
    """The ``<form>`` whose action ends with ``action_ends`` (AssertionError when there is none)."""
    soup = BeautifulSoup(html, "html.parser")
    for form in soup.find_all("form"):
        if (form.get("action") or "").endswith(action_ends):
            return form
    raise AssertionError(f"no form posting to …{action_ends} on the page")


def form_values(form) -> dict[str, str]:
    """What the browser would send: hidden and text inputs, checked radios, textareas."""
    values: dict[str, str] = {}
    for field in form.find_all(["input", "textarea"]):
        name = field.get("name")
        if not name:
            continue
        if field.name == "textarea":
            values[name] = field.get_text()
        elif field.get("type") in ("radio", "checkbox"):
            if field.has_attr("checked"):
                values[name] = field.get("value", "on")
        elif field.get("type") not in ("submit", "button", "file"):
            values[name] = field.get("value", "")
    return values


def submit(client, html: str, action_ends: str, **typed):
    """POST the rendered form (what the user ``typed`` replaces or adds to its values)."""
    form = rendered_form(html, action_ends)
    return client.post(form["action"], data={**form_values(form), **typed})
