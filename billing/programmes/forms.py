"""Forms of the programme pages; amounts are typed in yuan and parsed exactly into fen."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.errors import Invalid, Problems
from app.money import MoneyError, yuan_to_fen
from billing.programmes.eligibility import ProfileFacts
from billing.programmes.programmes import ProgrammeTerms

CONTRACT_TEXT = [DataRequired(_l("State this contract term: the contract must say it (MOF Order No. 102, Art. 23).")),
                 Length(max=5000, message=_l("At most 5000 characters."))]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def parse_yuan(text: str | None, field: str) -> int | None:
    """A typed yuan amount ("120", "-5", "¥1,280.50", "120元") into fen; None when empty."""
    cleaned = (text or "").strip().replace("¥", "").replace("￥", "").removesuffix("元").strip()
    if not cleaned:
        return None
    try:
        return yuan_to_fen(cleaned)
    except MoneyError:
        raise Invalid(_l("Enter an amount in yuan, e.g. 120 or 99.50."), field=field) from None


class ProgrammeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the programme a title.")), Length(max=120)])
    service_content = TextAreaField(_l("Service content"), validators=CONTRACT_TEXT)
    categories = MultiCheckboxField(_l("Service categories in scope"), coerce=int, validate_choice=False)
    listing_ids = StringField(_l("Further listings in scope (numbers, separated by commas)"),
                              validators=[Optional(), Length(max=500)])
    start_date = DateField(_l("Term: first day"), validators=[InputRequired(_l("Give the first day of the term."))])
    end_date = DateField(_l("Term: last day"), validators=[InputRequired(_l("Give the last day of the term."))])
    stable_service = BooleanField(_l("Stable, continuous service with a secured budget (term up to 3 years)"))
    quantity = IntegerField(_l("Quantity (service units purchased)"),
                            validators=[InputRequired(_l("The quantity must be a whole number above zero."))])
    quality_requirements = TextAreaField(_l("Quality requirements"), validators=CONTRACT_TEXT)
    unit_price = StringField(_l("Unit price (yuan)"), validators=[DataRequired(_l("The unit price must be above zero."))])
    settlement_method = TextAreaField(_l("Settlement method"), validators=CONTRACT_TEXT)
    performance_targets = TextAreaField(_l("Performance targets"), validators=CONTRACT_TEXT)
    breach_liability = TextAreaField(_l("Liability for breach"), validators=CONTRACT_TEXT)
    budget = StringField(_l("Budget (yuan)"))
    allowance_per_month = IntegerField(_l("Allowance per resident (visits per month)"),
                                       validators=[InputRequired(_l("The allowance is a number of visits per month, "
                                                                    "from 1 to 100."))])
    communities = MultiCheckboxField(_l("Communities"), coerce=int, validate_choice=False)
    min_age = IntegerField(_l("Minimum age (empty: any age)"), validators=[Optional()])
    requires_living_alone = BooleanField(_l("Only residents living alone"))
    requires_low_income = BooleanField(_l("Only low-income households"))
    requires_disability = BooleanField(_l("Only residents with a disability"))

    def terms(self, problems: Problems | None = None) -> ProgrammeTerms:
        """The typed terms.  An amount or listing list that does not parse is Invalid (on its
        field); with ``problems``, it is added there instead and read as empty, so that the
        service can check the other terms and the page show every problem at once."""

        def parsed(read, field):
            try:
                return read()
            except Invalid as error:
                if problems is None:
                    raise
                problems.extend(error)
                return None

        def listing_numbers():
            numbers = []
            for part in (self.listing_ids.data or "").replace("，", ",").split(","):
                part = part.strip().lstrip("#")
                if not part:
                    continue
                if not part.isdigit():
                    raise Invalid(_l("List listing numbers separated by commas, e.g. 12, 15."), field="listing_ids")
                numbers.append(int(part))
            return numbers

        listing_ids = parsed(listing_numbers, "listing_ids") or []
        budget = parsed(lambda: parse_yuan(self.budget.data, "budget"), "budget")
        unit_price = parsed(lambda: parse_yuan(self.unit_price.data, "unit_price"), "unit_price")
        return ProgrammeTerms(
            title=self.title.data or "", service_content=self.service_content.data or "",
            start_date=self.start_date.data, end_date=self.end_date.data, quantity=self.quantity.data,
            quality_requirements=self.quality_requirements.data or "",
            unit_price_fen=unit_price,
            settlement_method=self.settlement_method.data or "", performance_targets=self.performance_targets.data or "",
            breach_liability=self.breach_liability.data or "",
            budget_fen=0 if budget is None and not (self.budget.data or "").strip() else budget,
            allowance_per_month=self.allowance_per_month.data, stable_service=bool(self.stable_service.data),
            min_age=self.min_age.data, requires_living_alone=bool(self.requires_living_alone.data),
            requires_low_income=bool(self.requires_low_income.data),
            requires_disability=bool(self.requires_disability.data),
            category_ids=list(self.categories.data or []), listing_ids=listing_ids,
            community_ids=list(self.communities.data or []),
        )


# Services name fields by their fen names; the form's fields are in yuan.
FIELD_ALIASES = {"unit_price_fen": "unit_price", "budget_fen": "budget", "category_ids": "categories",
                 "community_ids": "communities", "amount_fen": "amount"}


class AwardForm(FlaskForm):
    provider_id = SelectField(_l("Provider"), coerce=int, validate_choice=False)
    contract_price = StringField(_l("Contract price per visit (yuan)"),
                                 validators=[DataRequired(_l("The contract price must be above zero."))])
    quota = IntegerField(_l("Quota (visits)"), validators=[InputRequired(_l("The quota must be a whole number above zero."))])


class FactsMixin:
    birth_date = DateField(_l("Birth date"), validators=[Optional()])
    lives_alone = BooleanField(_l("Lives alone"))
    low_income = BooleanField(_l("Low-income household"))
    disability = BooleanField(_l("Has a disability"))

    def facts(self) -> ProfileFacts:
        return ProfileFacts(birth_date=self.birth_date.data, lives_alone=bool(self.lives_alone.data),
                            low_income=bool(self.low_income.data), disability=bool(self.disability.data))


class EnrolForm(FactsMixin, FlaskForm):
    phone = StringField(_l("Resident's phone number"), validators=[DataRequired(_l("Enter the resident's phone number.")),
                                                                 Length(max=20)])


class ApplyForm(FactsMixin, FlaskForm):
    consent = BooleanField(_l("I agree that officials of the programme see these details to decide my application."),
                           validators=[DataRequired(_l("Your consent is needed to apply."))])


class CsvForm(FlaskForm):
    file = FileField(_l("CSV file"))


class EvaluatorForm(FlaskForm):
    """Appoint a third-party evaluator (an evaluator account) to the programme's follow-up calls."""

    # Its own id: the enrolment form on the same page has a "phone" too.
    phone = StringField(_l("The evaluator's phone number"), id="evaluator-phone", validators=[Length(max=20)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class EvaluationForm(FlaskForm):
    result = TextAreaField(_l("Evaluation result (published)"),
                           validators=[DataRequired(_l("Write the evaluation result: it is published.")),
                                       Length(max=5000)])


class TopUpForm(FlaskForm):
    amount = StringField(_l("Amount to add (yuan)"), validators=[Length(max=30)])
    reason = TextAreaField(_l("Reason (recorded)"), validators=[Length(max=1000)])
