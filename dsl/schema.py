"""The fact schema: field lookup by name or Chinese label, and validation of project input.

The same schema types the rules (checker) and validates every project (CLI, API).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsl import ast
from dsl.dates import BadDate, parse_date
from dsl.industry import NO_CLASSIFICATION, Classification
from dsl.units import dimension_of
from dsl.vocabulary import Code

FactValue = bool | float | str

# Numbers are kept to 4 decimal places of their field's unit (0.0001万元 is 1元) and below
# 10^15: within that range JSON writes them without an exponent, which the Rete engine needs.
DECIMALS = 4
MAX_NUMBER = 1e15


class Facts(dict[str, FactValue]):
    """Typed facts, as Schema.validate returns them, remembering which values the schema's
    defaults supplied (`defaulted`): a decision says which facts the project gave. A copy
    made with dict() or `|` is a plain dict and forgets it."""

    defaulted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FactError:
    field: str
    code: Code
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "location": self.field}


@dataclass(frozen=True)
class Schema:
    node: ast.Schema
    # The classes an industry value may name: dsl.load reads them beside the schema file.
    industries: Classification = NO_CLASSIFICATION

    @property
    def fields(self) -> tuple[ast.FieldDef, ...]:
        return self.node.fields

    def field(self, name_or_label: str) -> ast.FieldDef | None:
        for f in self.node.fields:
            if name_or_label in (f.name, f.label):
                return f
        return None

    def enum_value(self, field: ast.FieldDef, name_or_label: str) -> str | None:
        for v in field.type.values:
            if name_or_label in (v.name, v.label):
                return v.name
        return None

    def dimension(self, field: ast.FieldDef) -> str:
        return dimension_of(field.type.unit)

    def may_be_missing(self, field: ast.FieldDef) -> bool:
        return not field.required and field.default is None

    def validate(self, project: Mapping[str, Any]) -> tuple[Facts, list[FactError]]:
        """Typed facts (defaults applied) and every error found; unknown fields are errors."""
        facts = Facts()
        errors: list[FactError] = []
        if not isinstance(project, Mapping):
            return facts, [
                FactError("project", Code.WRONG_TYPE, "the project must be a JSON object")
            ]
        known = {f.name: f for f in self.node.fields}
        for name, value in project.items():
            f = known.get(name)
            if f is None:
                errors.append(FactError(str(name), Code.UNKNOWN_FIELD, _unknown(str(name), known)))
                continue
            if value is None:
                continue
            typed = _coerce(self, f, value)
            if isinstance(typed, FactError):
                errors.append(typed)
            else:
                facts[name] = typed
        for f in self.node.fields:
            if f.name in facts or (f.name in project and project[f.name] is not None):
                continue
            if f.default is not None:
                facts[f.name] = _literal_value(f.default)
                facts.defaulted |= {f.name}
            elif f.required:
                errors.append(
                    FactError(f.name, Code.MISSING_FIELD, f"'{f.name}' ({f.label}) is required")
                )
        return facts, errors


def region_path(value: str) -> str | None:
    """The region as a path of stripped names (甘肃省/平凉市), or None when it is not one."""
    # A proper path only: an empty, "." or ".." segment (or a leading or trailing /) would
    # make "within" answer for a region nobody meant.
    parts = [p.strip() for p in value.split("/")]
    if not value or any(p in ("", ".", "..") for p in parts):
        return None
    return "/".join(parts)


def _unknown(name: str, known: Mapping[str, ast.FieldDef]) -> str:
    by_label = next((f for f in known.values() if f.label == name), None)
    if by_label is not None:
        return f"unknown field '{name}': did you mean '{by_label.name}' ({by_label.label})?"
    return f"unknown field '{name}'; known fields: {', '.join(sorted(known))}"


def _literal_value(lit: ast.Literal) -> FactValue:
    if lit.kind == "bool":
        return lit.value == "true"
    if lit.kind == "quantity":
        return float(lit.value)
    return lit.value


def _coerce(schema: Schema, f: ast.FieldDef, value: Any) -> FactValue | FactError:
    kind = f.type.kind
    where = f"'{f.name}' ({f.label})"
    if kind == "bool":
        if isinstance(value, bool):
            return value
        return FactError(f.name, Code.WRONG_TYPE, f"{where} must be true or false, not {value!r}")
    if kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            # An int is exact and of any size: math.isfinite(10**400) overflows (a 500).
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            unit = f" in {f.type.unit}" if f.type.unit else ""
            return FactError(
                f.name, Code.WRONG_TYPE, f"{where} must be a number{unit}, not {value!r}"
            )
        if not 0 <= value < MAX_NUMBER:
            return FactError(
                f.name,
                Code.OUT_OF_RANGE,
                f"{where} must be at least 0 and below 10^15, got {value}",
            )
        return round(float(value), DECIMALS)
    if not isinstance(value, str):
        return FactError(f.name, Code.WRONG_TYPE, f"{where} must be a string, not {value!r}")
    if kind == "enum":
        canonical = schema.enum_value(f, value)
        if canonical is None:
            allowed = ", ".join(f"{v.name} ({v.label})" for v in f.type.values)
            return FactError(
                f.name,
                Code.UNKNOWN_ENUM_VALUE,
                f"{where}: unknown value {value!r}; one of {allowed}",
            )
        return canonical
    if kind == "region":
        path = region_path(value)
        if path is None:
            return FactError(
                f.name,
                Code.BAD_REGION,
                f"{where} must be a path such as 甘肃省/平凉市, got {value!r}",
            )
        return path
    if kind == "date":
        try:
            return parse_date(value).isoformat()
        except BadDate:
            return FactError(
                f.name, Code.BAD_DATE, f"{where} must be a date YYYY-MM-DD, got {value!r}"
            )
    return value
