"""Money: integer fen everywhere; ``Decimal`` with an explicit rule at the edges.

Rule: amounts typed by a person are parsed exactly; more than two decimal places
is an error, never silently rounded.  Computed amounts (shares, fees) are rounded
half-up to the fen by :func:`round_fen`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100


class MoneyError(ValueError):
    pass


def yuan_to_fen(text: str | Decimal | int) -> int:
    """Parse a yuan amount ("120", "99.5", "1,280.00") into fen, exactly."""
    try:
        value = Decimal(str(text).replace(",", "").replace("¥", "").strip())
    except InvalidOperation as exc:
        raise MoneyError("not a number") from exc
    if not value.is_finite():
        raise MoneyError("not a number")
    try:
        fen = value * FEN_PER_YUAN
        whole = fen.to_integral_value()
    except ArithmeticError as exc:  # e.g. 1e999999 overflows the context
        raise MoneyError("not a number") from exc
    if fen != whole:
        raise MoneyError("at most two decimal places")
    return int(fen)


def round_fen(amount: Decimal) -> int:
    """Round a computed fen amount half-up to a whole fen."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_fen(fen: int) -> str:
    """Display: ¥1,280.50."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen_to_yuan(fen)):,.2f}"
