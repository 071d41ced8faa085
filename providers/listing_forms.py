"""Forms for a provider's listings.

The listing form parses what people type — a price in yuan, times as HH:MM,
whole numbers — and puts a message on the field at fault.  The business rules
(price and duration ranges, the provider's own categories and communities,
window length, capacity, overlaps) belong to :mod:`providers.listings`.

The weekly availability editor needs no JavaScript: one row per weekday with an
"available" box, a start and end time and a capacity per slot, and an optional
second window (e.g. the afternoon after a lunch break).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    FormField,
    HiddenField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError

from app.money import MoneyError, fen_to_yuan, yuan_to_fen
from providers.listing_photos import ACCEPT
from providers.listings import ListingInput, Window
from providers.models import Listing, PricingUnit

WEEKDAYS = (
    (0, "mon", _l("Monday")),
    (1, "tue", _l("Tuesday")),
    (2, "wed", _l("Wednesday")),
    (3, "thu", _l("Thursday")),
    (4, "fri", _l("Friday")),
    (5, "sat", _l("Saturday")),
    (6, "sun", _l("Sunday")),
)
WEEKDAY_NAMES = {number: name for number, _key, name in WEEKDAYS}

# "09:00", "9:00", "09：00" (Chinese input methods type a full-width colon),
# and "09:00:00" as some phones send from <input type="time">.
_TIME = re.compile(r"^(\d{1,2})\s*[:：]\s*(\d{2})(?:[:：]00)?$")
_MAX_TYPED = 20  # characters: nobody types a longer price or number
# An amount as people type it: digits, thousands commas, a decimal point (no
# exponent, NaN or Infinity, which Decimal would also accept).
_AMOUNT = re.compile(r"^[+-]?[\d,]*(?:\.\d*)?$")


def clean_amount(text: str) -> str:
    """Drop the currency signs people type ("¥", full-width "￥", a trailing "元")."""
    return (text or "").strip().replace("¥", "").replace("￥", "").removesuffix("元").strip()


def amount_to_fen(text: str) -> int:
    """A typed yuan amount into fen; MoneyError if it is not a plain amount."""
    text = clean_amount(text)
    if len(text) > _MAX_TYPED or not _AMOUNT.match(text) or not any(ch.isdigit() for ch in text):
        raise MoneyError("not a number")
    return yuan_to_fen(text)


def format_minutes(minutes: int) -> str:
    """Minutes from midnight as HH:MM (1440 is "24:00")."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time(text: str) -> int:
    """HH:MM into minutes from midnight; ValueError if it is not a time of day."""
    match = _TIME.match((text or "").strip())
    if not match:
        raise ValueError(text)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(text)
    return hours * 60 + minutes


def parse_whole(text: str) -> int:
    """A whole number as typed ("90", " 2 "); ValueError otherwise."""
    text = (text or "").strip()
    if not text or len(text) > _MAX_TYPED:
        raise ValueError(text)
    return int(text)


def parse_price(text: str) -> int:
    """A price typed in yuan ("120", "99.50", "¥1,280", "120元") into fen.

    Raises ValidationError with the message for the price field.  The range
    (¥1 to ¥50,000) is checked by the service.
    """
    if not clean_amount(text):
        raise ValidationError(_l("Enter the price in yuan, e.g. 120 or 99.50."))
    try:
        fen = amount_to_fen(text)
    except MoneyError as error:
        if "decimal" in str(error):
            raise ValidationError(
                _l("A price has at most two decimal places (fen), e.g. 99.50.")
            ) from None
        raise ValidationError(_l("Enter the price as a number of yuan, e.g. 120 or 99.50.")) from None
    if fen < 0:
        raise ValidationError(_l("The price cannot be negative."))
    if fen == 0:
        raise ValidationError(_l("The price must be more than zero: Linli does not list free services."))
    return fen


def _whole_or_none(text) -> int | None:
    try:
        return parse_whole(text)
    except ValueError:
        return None


def int_or_none(value):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _int_or_unknown(value) -> int:
    """For id lists: anything that is not an id becomes -1, which no row has."""
    parsed = int_or_none(value)
    return -1 if parsed is None else parsed


class DayForm(Form):
    """One weekday of the weekly availability (no CSRF: it is part of ListingForm)."""

    available = BooleanField(_l("Available"))
    start = StringField(_l("From"))
    end = StringField(_l("Until"))
    capacity = StringField(_l("Bookings per slot"))
    start2 = StringField(_l("Second window from"))
    end2 = StringField(_l("Until"))
    capacity2 = StringField(_l("Bookings per slot"))

    def has_second(self) -> bool:
        return bool((self.start2.data or "").strip() or (self.end2.data or "").strip())

    def _need_time(self, field, message) -> None:
        if not (field.data or "").strip():
            raise ValidationError(message)
        try:
            parse_time(field.data)
        except ValueError:
            raise ValidationError(_l("Enter a time as HH:MM, e.g. 09:00 or 17:30.")) from None

    def validate_start(self, field):
        if self.available.data:
            self._need_time(field, _l("Enter when this day's window starts, e.g. 09:00."))

    def validate_end(self, field):
        if self.available.data:
            self._need_time(field, _l("Enter when this day's window ends, e.g. 17:00."))

    def validate_capacity(self, field):
        if self.available.data:
            try:
                parse_whole(field.data)
            except ValueError:
                raise ValidationError(
                    _l("Enter how many bookings each slot can take, as a whole number (e.g. 1).")
                ) from None

    def validate_start2(self, field):
        if self.available.data and self.has_second():
            self._need_time(field, _l("Enter when the second window starts, or leave both times empty."))

    def validate_end2(self, field):
        if self.available.data and self.has_second():
            self._need_time(field, _l("Enter when the second window ends, or leave both times empty."))

    def validate_capacity2(self, field):
        if self.available.data and self.has_second() and (field.data or "").strip():
            try:
                parse_whole(field.data)
            except ValueError:
                raise ValidationError(
                    _l("Enter how many bookings each slot can take, as a whole number (e.g. 1).")
                ) from None

    def windows(self, weekday: int) -> list[Window]:
        """This day's windows (call after validation succeeded)."""
        if not self.available.data:
            return []
        capacity = parse_whole(self.capacity.data)
        found = [Window(weekday, parse_time(self.start.data), parse_time(self.end.data), capacity)]
        if self.has_second():
            second = parse_whole(self.capacity2.data) if (self.capacity2.data or "").strip() else capacity
            found.append(Window(weekday, parse_time(self.start2.data), parse_time(self.end2.data), second))
        return found

    def fill(self, windows: list) -> None:
        """Show saved windows (AvailabilityWindow rows of one weekday)."""
        self.available.data = bool(windows)
        for (start, end, capacity), w in zip(
            ((self.start, self.end, self.capacity), (self.start2, self.end2, self.capacity2)), windows
        ):
            start.data = format_minutes(w.start_minute)
            end.data = format_minutes(w.end_minute)
            capacity.data = str(w.capacity)


class ListingForm(FlaskForm):
    """Create or edit a listing.  The view sets the category and community choices."""

    category_id = SelectField(_l("Category"), coerce=int_or_none, validate_choice=False)
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description"))
    price = StringField(_l("Price (yuan)"))
    pricing_unit = SelectField(
        _l("Charged"),
        choices=[(PricingUnit.PER_VISIT.value, _l("per visit")), (PricingUnit.PER_HOUR.value, _l("per hour"))],
        validate_choice=False,
    )
    duration_minutes = StringField(_l("Duration (minutes)"))
    response_hours = StringField(_l("We answer a request within (hours)"))
    checklist = TextAreaField(_l("Tasks the carer ticks at check-out (optional)"), render_kw={"rows": 5})
    community_ids = SelectMultipleField(_l("Communities"), coerce=_int_or_unknown, validate_choice=False)
    photos = MultipleFileField(_l("Add photos"), render_kw={"accept": ACCEPT})
    version = HiddenField()
    mon = FormField(DayForm, label=WEEKDAY_NAMES[0])
    tue = FormField(DayForm, label=WEEKDAY_NAMES[1])
    wed = FormField(DayForm, label=WEEKDAY_NAMES[2])
    thu = FormField(DayForm, label=WEEKDAY_NAMES[3])
    fri = FormField(DayForm, label=WEEKDAY_NAMES[4])
    sat = FormField(DayForm, label=WEEKDAY_NAMES[5])
    sun = FormField(DayForm, label=WEEKDAY_NAMES[6])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.price_fen: int | None = None
        # Messages about the availability as a whole (from the service).
        self.availability_errors: list[str] = []

    def days(self):
        """(weekday number, name, DayForm) for Monday to Sunday."""
        return [(number, name, getattr(self, key).form) for number, key, name in WEEKDAYS]

    def validate_price(self, field):
        self.price_fen = parse_price(field.data)

    def validate_duration_minutes(self, field):
        try:
            parse_whole(field.data)
        except ValueError:
            raise ValidationError(_l("Enter the duration as a whole number of minutes, e.g. 90.")) from None

    def validate_response_hours(self, field):
        try:
            parse_whole(field.data)
        except ValueError:
            raise ValidationError(_l("Enter the response time as a whole number of hours, e.g. 4.")) from None

    def to_input(self) -> ListingInput:
        """What the service needs.  After a failed validation too: a value the form could
        not read is None (the service skips the fields the form refused, :meth:`refused`)."""
        windows = [w for number, _name, day in self.days() if not day.errors for w in day.windows(number)]
        return ListingInput(
            category_id=self.category_id.data,
            title=self.title.data or "",
            description=self.description.data or "",
            price_fen=self.price_fen,
            pricing_unit=self.pricing_unit.data or "",
            duration_minutes=_whole_or_none(self.duration_minutes.data),
            response_hours=_whole_or_none(self.response_hours.data),
            community_ids=list(self.community_ids.data or []),
            availability=windows,
            checklist=(self.checklist.data or "").splitlines(),
            photos=list(self.photos.data or []),
        )

    def refused(self) -> set[str]:
        """The service's names of the fields this form has already refused (its own checks)."""
        names = {"price": "price_fen"}
        found = {names.get(f.name, f.name) for f in self if f.errors and f.type != "FormField"}
        if any(day.errors for _number, _name, day in self.days()):
            found.add("availability")  # the day's own message says what is wrong
        return found

    def expected_version(self) -> int | None:
        return int_or_none(self.version.data)

    def prefill_new(self, community_ids: list[int]) -> None:
        """Sensible starting values for a new listing (days stay unticked)."""
        self.pricing_unit.data = PricingUnit.PER_VISIT.value
        self.duration_minutes.data = "60"
        self.response_hours.data = "24"
        self.community_ids.data = list(community_ids)
        for _number, _name, day in self.days():
            day.start.data, day.end.data, day.capacity.data = "09:00", "17:00", "1"

    def fill_from(self, listing: Listing) -> int:
        """Show a saved listing; returns how many windows the editor cannot show (> 2 a day)."""
        self.category_id.data = listing.category_id
        self.title.data = listing.title
        self.description.data = listing.description
        self.price.data = str(fen_to_yuan(listing.price_fen)).removesuffix(".00")
        self.pricing_unit.data = listing.pricing_unit.value
        self.duration_minutes.data = str(listing.duration_minutes)
        self.response_hours.data = str(listing.response_hours)
        self.checklist.data = "\n".join(listing.checklist or [])
        self.community_ids.data = [c.id for c in listing.communities]
        self.version.data = str(listing.version)
        hidden = 0
        for number, _name, day in self.days():
            windows = [w for w in listing.availability if w.weekday == number]
            day.fill(windows)
            hidden += max(0, len(windows) - 2)
            if not windows:
                day.start.data, day.end.data, day.capacity.data = "09:00", "17:00", "1"
        return hidden


class StatusForm(FlaskForm):
    """Publish, pause, resume or archive: the target status from the button pressed."""

    status = HiddenField()
