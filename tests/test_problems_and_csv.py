"""Several refusals at once (app.errors.Problems) and the safe CSV export (app.csv_export)."""

import pytest
from wtforms import Form, FormField, StringField

from app.csv_export import csv_text, spreadsheet_safe
from app.errors import Invalid, Problems, field_errors
from app.uow import apply_form_error, form_problems


def test_problems_collects_every_refusal_and_raises_once():
    problems = Problems()
    assert not problems
    problems.raise_if_any()  # nothing found: nothing raised
    problems.add("Give a title.", field="title")
    problems.add("The price must be above zero.", field="price_fen")
    problems.extend(Invalid("Choose a category.", field="category"))
    with pytest.raises(Invalid) as raised:
        problems.raise_if_any()
    assert raised.value.status == 422
    assert str(raised.value) == "Give a title." and raised.value.field == "title"
    assert field_errors(raised.value) == {"title": ["Give a title."], "price_fen": ["The price must be above zero."],
                                          "category": ["Choose a category."]}


class _ListingForm(Form):
    title = StringField("Title")
    price = StringField("Price")


def test_apply_form_error_puts_each_problem_on_its_own_field():
    form = _ListingForm()
    problems = Problems([Invalid("Give a title.", field="title"), Invalid("Too cheap.", field="price_fen")])
    apply_form_error(form, problems, {"price_fen": "price"})
    assert form.title.errors == ["Give a title."]
    assert form.price.errors == ["Too cheap."]


@pytest.mark.parametrize("text", ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx", "\nx"])
def test_csv_cells_that_start_a_formula_are_kept_as_text(text):
    assert spreadsheet_safe(text) == "'" + text
    body = csv_text(["name"], [[text]])
    assert body.splitlines()[1].lstrip('"').startswith("'")


def test_csv_keeps_numbers_and_plain_text():
    assert csv_text(["id", "name", "none"], [[3, "洁美家政", None]]) == "id,name,none\r\n3,洁美家政,\r\n"


class _Day(Form):
    capacity = StringField("Capacity")


class _WeekForm(Form):
    title = StringField("Title")
    monday = FormField(_Day, label="Monday")


def test_form_problems_name_a_field_within_a_form_by_both_labels():
    form = _WeekForm()
    form.title.errors = ["Give a title."]
    form.monday.form.capacity.errors = ["Too many."]
    assert form_problems(form) == [("title", "Title", "Give a title."),
                                   ("monday-capacity", "Monday · Capacity", "Too many.")]
    assert form_problems(None, [form, None])[0] == ("title", "Title", "Give a title.")
