"""Money parsing and formatting: exact, no silent rounding."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.money import MoneyError, format_fen, round_fen, yuan_to_fen


@pytest.mark.parametrize(
    "text, fen",
    [("120", 12000), ("99.5", 9950), ("1,280.00", 128000), ("¥0.01", 1), (" 7 ", 700)],
)
def test_yuan_is_parsed_exactly(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["abc", "", "1.234", "NaN", "Infinity", "1e999999", "--1"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(MoneyError):
        yuan_to_fen(text)


def test_computed_amounts_round_half_up():
    assert round_fen(Decimal("2.5")) == 3
    assert round_fen(Decimal("2.4999")) == 2
    assert round_fen(Decimal("-2.5")) == -3


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_formatting_round_trips(fen):
    text = format_fen(fen)
    assert yuan_to_fen(text.replace("-", "")) == abs(fen)
