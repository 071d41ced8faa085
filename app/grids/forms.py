"""Forms of the grid pages.  They carry what was typed; the services check it (every
problem at once, each on its field).  Choices are filled by the view from the tree."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, RadioField, SelectField, StringField


def int_or_none(value):
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class OptionalDate(DateField):
    """A date (YYYY-MM-DD) that may be empty; our own message when it is not a date."""

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter the date as year-month-day, e.g. 2027-06-30.")) from exc


class StreetForm(FlaskForm):
    street_name = StringField(_l("Street (街道) or town"))
    district = StringField(_l("District"))


class GridForm(FlaskForm):
    code = StringField(_l("Code"))
    name = StringField(_l("Name"))
    parent_id = SelectField(_l("Belongs to"), coerce=int_or_none, validate_choice=False)


class GridEditForm(FlaskForm):
    name = StringField(_l("Name"))
    parent_id = SelectField(_l("Belongs to the grid"), coerce=int_or_none, validate_choice=False)


class HouseholdForm(FlaskForm):
    code = StringField(_l("Household number"))
    address = StringField(_l("Address"))


class HouseholdEditForm(FlaskForm):
    address = StringField(_l("Address"))
    grid_id = SelectField(_l("Grid or micro-grid"), coerce=int_or_none, validate_choice=False)


class MemberForm(FlaskForm):
    phone = StringField(_l("The resident's mobile number"))


class ImportForm(FlaskForm):
    kind = RadioField(_l("What the file holds"), choices=[("households", _l("Households")), ("grids", _l("Grids"))],
                      default="households", validate_choice=False)
    file = FileField(_l("CSV file"), render_kw={"accept": ".csv,text/csv"})


class AssignForm(FlaskForm):
    phone = StringField(_l("The grid worker's mobile number"))
    grid_id = SelectField(_l("Grid"), coerce=int_or_none, validate_choice=False)
    valid_from = OptionalDate(_l("First day"))
    valid_until = OptionalDate(_l("Last day (empty: until further notice)"))
