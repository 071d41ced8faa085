"""Submit the form a page rendered: its hidden fields, its defaults and its button, plus what
the person types (BeautifulSoup over the Flask test client's response)."""

from __future__ import annotations

from urllib.parse import urlsplit

from bs4 import BeautifulSoup


def form_fields(form) -> dict[str, str]:
    """What the browser would send for ``form`` untouched (no button yet)."""
    data: dict[str, str] = {}
    for element in form.find_all(["input", "select", "textarea"]):
        name = element.get("name")
        if not name or element.name == "input" and element.get("type") in ("submit", "button", "file"):
            continue
        if element.name == "select":
            chosen = element.find("option", selected=True) or element.find("option")
            data[name] = chosen.get("value", chosen.text) if chosen else ""
        elif element.name == "textarea":
            data[name] = element.text
        elif element.get("type") in ("checkbox", "radio"):
            if element.has_attr("checked"):
                data[name] = element.get("value", "on")
        else:
            data[name] = element.get("value", "")
    return data


def find_form(response, selector: str = "main form"):
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    form = soup.select_one(selector)
    assert form is not None, f"no {selector} on the page"
    return form


def submit(client, response, selector: str = "main form", *, page_url: str | None = None, **typed):
    """Fill ``typed`` into the form ``selector`` of ``response`` and press its (first) button."""
    form = find_form(response, selector)
    data = form_fields(form)
    for name, value in typed.items():
        assert form.find(attrs={"name": name}) is not None, f"the form has no field {name!r}"
        data[name] = value
    button = form.find("button", attrs={"type": "submit"}) or form.find("button")
    assert button is not None, "the form has no button"
    if button.get("name"):
        data[button["name"]] = button.get("value", "")
    here = urlsplit(response.request.url)
    action = form.get("action") or page_url or (here.path + (f"?{here.query}" if here.query else ""))
    return client.open(action, method=(form.get("method") or "get").upper(), data=data)
