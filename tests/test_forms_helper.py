"""The form helper sends what a browser sends: the page's hidden fields, the pressed
button's name and value, the form's method, action and encoding; and refuses what the
page does not offer."""

import pytest

from tests.forms import FormError, Page

HTML = """<html><body><form action="/prefs" method="post"><button>中文</button></form><main>
<form method="post" action="/things/7/decide" enctype="multipart/form-data">
  <input type="hidden" name="csrf_token" value="tok">
  <input type="hidden" name="outcome" value="">
  <textarea name="reason">
kept</textarea>
  <select name="kind"><option value="">Choose</option><option value="late" selected>Late</option></select>
  <input type="checkbox" name="agree" value="y" checked>
  <input type="file" name="photos" multiple>
  <input type="text" name="off" value="x" disabled>
  <button type="submit" name="outcome" value="upheld">Uphold</button>
  <button type="submit" name="outcome" value="dismissed">Dismiss</button>
</form>
<form method="get" action="/search"><input name="q" value=""><button>Search</button></form>
</main></body></html>"""


class Recorder:
    def __init__(self):
        self.calls = []

    def post(self, path, **kwargs):
        self.calls.append(("POST", path, kwargs))
        return kwargs

    def get(self, path, **kwargs):
        self.calls.append(("GET", path, kwargs))
        return kwargs


class Response:
    def get_data(self, as_text=True):
        return HTML


def page():
    client = Recorder()
    return client, Page(client, "/things/7", Response())


def test_the_rendered_fields_and_the_pressed_button_are_sent():
    client, p = page()
    p.submit(button="Dismiss", fields={"agree": None, "photos": [(b"png", "a.png")]})
    [(method, path, kwargs)] = client.calls
    assert (method, path, kwargs["content_type"]) == ("POST", "/things/7/decide", "multipart/form-data")
    data = kwargs["data"]
    assert {k: data.getlist(k) for k in data if k != "photos"} == {
        "csrf_token": ["tok"], "outcome": ["", "dismissed"], "reason": ["kept"], "kind": ["late"]}
    # The empty hidden value comes first: what a HiddenField named like the buttons would read.
    assert data["photos"][1] == "a.png" and "off" not in data


def test_a_get_form_goes_to_the_query_string():
    client, p = page()
    p.submit(action="/search", fields={"q": "保洁"})
    [(method, path, kwargs)] = client.calls
    assert (method, path, dict(kwargs["query_string"])) == ("GET", "/search", {"q": "保洁"})


def test_what_the_page_does_not_offer_is_refused():
    _, p = page()
    with pytest.raises(FormError, match="no field"):
        p.submit(button="Uphold", fields={"made_up": "1"})
    with pytest.raises(FormError, match="offers"):
        p.submit(button="Uphold", fields={"kind": "rude"})
    with pytest.raises(FormError, match="buttons match"):
        p.form(button="Uphold").submit(button="Escalate")
    with pytest.raises(FormError, match="say which button"):
        p.form(action="/things/7/decide").submit()
