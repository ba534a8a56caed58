"""Project input against the fact schema: every bad input is an error naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from server.service import Service

GOOD = {"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 1000}

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown field", {"colour": "red"}, "colour", "unknown_field"),
    ("label instead of name", {"投资额": 5}, "投资额", "unknown_field"),
    ("number as string", {"investment_wan": "1000万元"}, "investment_wan", "wrong_type"),
    ("bool as number", {"major": 1}, "major", "wrong_type"),
    ("number as bool", {"investment_wan": True}, "investment_wan", "wrong_type"),
    ("negative amount", {"investment_wan": -5}, "investment_wan", "out_of_range"),
    ("unknown enum", {"land_use": "farmland"}, "land_use", "unknown_enum_value"),
    ("bad region", {"region": "甘肃省//平凉市"}, "region", "bad_region"),
    ("parent segment", {"region": "甘肃省/平凉市/.."}, "region", "bad_region"),
    ("dot segment", {"region": "甘肃省/./平凉市"}, "region", "bad_region"),
    ("leading slash", {"region": "/甘肃省"}, "region", "bad_region"),
    ("trailing slash", {"region": "甘肃省/"}, "region", "bad_region"),
    ("empty region", {"region": ""}, "region", "bad_region"),
    ("blank segment", {"region": "甘肃省/ /平凉市"}, "region", "bad_region"),
    ("bad date", {"date": "2024-02-30"}, "date", "bad_date"),
]


@pytest.mark.parametrize(("note", "change", "field", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(
    service: Service, note: str, change: dict[str, Any], field: str, code: str
) -> None:
    _, errors = service.policies.schema.validate(GOOD | change)
    assert [(e.field, e.code) for e in errors] == [(field, code)]
    assert field in errors[0].message or errors[0].field == field


def test_missing_required_region(service: Service) -> None:
    _, errors = service.policies.schema.validate({"land_use": "none"})
    assert [(e.field, e.code) for e in errors] == [("region", "missing_field")]


def test_defaults_and_labels(service: Service) -> None:
    facts, errors = service.policies.schema.validate(GOOD | {"land_use": "非供地"})
    assert not errors
    assert facts["land_use"] == "none"  # an enum label is accepted and made canonical
    assert facts["subject"] == "project" and facts["major"] is False
    assert "lease_area_m2" not in facts  # no default: left missing, never invented


def test_all_errors_at_once(service: Service) -> None:
    _, errors = service.policies.schema.validate({"colour": 1, "land_use": "x", "major": "yes"})
    assert {e.field for e in errors} == {"colour", "land_use", "major", "region"}
