"""Quantities with units. Exact arithmetic (Fraction), so 1000万元 equals 0.1亿元 exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, Fraction]] = {
    "元": ("money", Fraction(1)),
    "万元": ("money", Fraction(10_000)),
    "亿元": ("money", Fraction(100_000_000)),
    "平方米": ("area", Fraction(1)),
    "亩": ("area", Fraction(10_000, 15)),
    "公顷": ("area", Fraction(10_000)),
    "平方公里": ("area", Fraction(1_000_000)),
    "%": ("percent", Fraction(1)),
}

DIMENSION_LABELS = {"money": "金额", "area": "面积", "percent": "百分比", "number": "数值"}

_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(.*)$")


@dataclass(frozen=True)
class Quantity:
    """A number as written (kept for formatting) with an optional unit."""

    amount: str
    unit: str = ""

    @property
    def dimension(self) -> str:
        return UNITS[self.unit][0] if self.unit else "number"

    @property
    def exact(self) -> Fraction:
        return Fraction(self.amount)

    def in_unit(self, unit: str) -> Fraction:
        """The value expressed in `unit` (same dimension; a bare number is taken as-is)."""
        if not self.unit or not unit:
            return self.exact
        return self.exact * UNITS[self.unit][1] / UNITS[unit][1]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_quantity(text: str) -> Quantity:
    m = _QUANTITY.match(text)
    if m is None:
        raise ValueError(f"not a quantity: {text!r}")
    return Quantity(m.group(1), m.group(2))


def dimension_of(unit: str) -> str:
    return UNITS[unit][0] if unit else "number"
